/* Plain-text tables for the CLI: a header row, columns padded to their
 * widest cell. Pure apart from writing to the FILE it is given. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/cli/cli.h"

size_t cli_text_width(const char *s)
{
	size_t w = 0;

	/* Count every byte that does not continue a UTF-8 sequence. */
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void cli_text_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static char *cell_dup(const char *s)
{
	char *c = xstrdup(s ? s : "-");

	cli_text_sanitize(c);
	return c;
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->cells = xreallocarray(t->cells, t->cap * t->ncols, sizeof(char *));
	}
	char **row = &t->cells[t->nrows * t->ncols];
	for (size_t i = 0; i < t->ncols; i++)
		row[i] = cell_dup(cells[i]);
	t->nrows++;
}

int cli_table_init(struct cli_table *t, const char *const *headers, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	if (ncols == 0)
		return -EINVAL;
	t->ncols = ncols;
	if (headers)
		cli_table_add(t, headers);
	return 0;
}

void cli_table_widths(const struct cli_table *t, size_t *widths)
{
	for (size_t c = 0; c < t->ncols; c++) {
		widths[c] = 0;
		for (size_t r = 0; r < t->nrows; r++) {
			size_t w = cli_text_width(t->cells[r * t->ncols + c]);
			if (w > widths[c])
				widths[c] = w;
		}
	}
}

int cli_table_print(const struct cli_table *t, FILE *out)
{
	size_t *widths = xcalloc(t->ncols, sizeof(size_t));

	cli_table_widths(t, widths);
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];
			fputs(cell, out);
			if (c + 1 < t->ncols)
				fprintf(out, "%*s", (int)(widths[c] - cli_text_width(cell) + 2), "");
		}
		fputc('\n', out);
	}
	free(widths);
	return ferror(out) ? -EIO : 0;
}

void cli_table_done(struct cli_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
