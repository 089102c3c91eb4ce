# JSON for the ephemeral agent (busybox awk): reads one JSON document and
# writes each leaf value into a file of DIR named by its path, keys joined
# with "." and array elements by their index:
#
#   awk -v dir=DIR -f json.awk FILE
#
#   {"action": "deploy", "image": {"url": "/images/a", "size": 5},
#    "seed": {"meta-data": "a: 1\nb: \"2\""}, "l": [true, null]}
#   -> DIR/action "deploy", DIR/image.url "/images/a", DIR/image.size "5",
#      DIR/seed.meta-data (two lines, the escapes decoded), DIR/l.0 "true",
#      DIR/l.1 "null"
#
# A string is written decoded and exactly (no newline added): \" \\ \/ \b
# \f \n \r \t and \uXXXX (UTF-8; a surrogate pair as one character). A
# number, true, false or null is written as it stands. Key characters
# other than [A-Za-z0-9_-] become "_" (a key can never name another
# directory). Exit status 1 with "json: WHAT at byte N" on stderr for
# anything that is not one JSON value: a bad escape, \u0000, a raw control
# character in a string, nesting deeper than 16, trailing bytes.

function fail(what) {
	printf "json: %s at byte %d\n", what, p > "/dev/stderr"
	failed = 1
	exit 1
}

function ws() {
	while (p <= n && (C[p] == " " || C[p] == "\t" || C[p] == "\n" || C[p] == "\r"))
		p++
}

function hexval(i,    k, v, d) {
	v = 0
	for (k = 0; k < 4; k++) {
		d = index("0123456789abcdef", tolower(C[i + k]))
		if (d == 0 || i + k > n)
			fail("bad \\u escape")
		v = v * 16 + d - 1
	}
	return v
}

# The UTF-8 bytes of code point u.
function utf8(u) {
	if (u < 128)
		return sprintf("%c", u)
	if (u < 2048)
		return sprintf("%c%c", 192 + int(u / 64), 128 + u % 64)
	if (u < 65536)
		return sprintf("%c%c%c", 224 + int(u / 4096), 128 + int(u / 64) % 64, 128 + u % 64)
	return sprintf("%c%c%c%c", 240 + int(u / 262144), 128 + int(u / 4096) % 64, 128 + int(u / 64) % 64,
		128 + u % 64)
}

# A string at C[p] == "\"": returned (out == "") or written to the file
# out in pieces (a long string is never built by repeated concatenation).
function str(out,    buf, len, c, e, u, lo, r) {
	p++
	buf = ""
	len = 0
	r = ""
	for (;;) {
		if (p > n)
			fail("unterminated string")
		c = C[p]
		if (c == "\"") {
			p++
			break
		}
		if (c == "\\") {
			e = C[p + 1]
			p += 2
			if (e == "n") c = "\n"
			else if (e == "\"") c = "\""
			else if (e == "\\") c = "\\"
			else if (e == "/") c = "/"
			else if (e == "t") c = "\t"
			else if (e == "r") c = "\r"
			else if (e == "b") c = "\b"
			else if (e == "f") c = "\f"
			else if (e == "u") {
				u = hexval(p)
				p += 4
				if (u >= 55296 && u < 56320 && C[p] == "\\" && C[p + 1] == "u") {
					lo = hexval(p + 2)
					if (lo >= 56320 && lo < 57344) {
						u = 65536 + (u - 55296) * 1024 + (lo - 56320)
						p += 6
					}
				}
				if (u == 0)
					fail("\\u0000 in a string")
				c = utf8(u)
			} else {
				p -= 2
				fail("bad escape")
			}
		} else {
			if (c < " " && c != "")
				fail("control character in a string")
			p++
		}
		buf = buf c
		len++
		if (len >= 256) {
			if (out != "")
				printf "%s", buf > out
			else
				r = r buf
			buf = ""
			len = 0
		}
	}
	if (out != "") {
		printf "%s", buf > out
		close(out)
		return ""
	}
	return r buf
}

function key(k) {
	gsub(/[^A-Za-z0-9_-]/, "_", k)
	return k == "" ? "_" : k
}

function file(path) {
	if (path == "")
		fail("a lone scalar (not an object or array)")
	return dir "/" path
}

function literal(path,    start, t, f) {
	start = p
	while (p <= n && index("abcdefghijklmnopqrstuvwxyz0123456789+-.E", C[p]))
		p++
	t = substr(s, start, p - start)
	if (t != "true" && t != "false" && t != "null" && t !~ /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) {
		p = start
		fail("not a JSON value")
	}
	f = file(path)
	printf "%s", t > f
	close(f)
}

function value(path, depth,    c, i, k, f) {
	if (depth > 16)
		fail("nested too deep")
	ws()
	if (p > n)
		fail("unexpected end")
	c = C[p]
	if (c == "{") {
		p++
		ws()
		if (C[p] == "}") {
			p++
			return
		}
		for (;;) {
			ws()
			if (C[p] != "\"")
				fail("expected a key")
			k = key(str(""))
			ws()
			if (C[p] != ":")
				fail("expected :")
			p++
			value(path == "" ? k : path "." k, depth + 1)
			ws()
			if (C[p] == ",") {
				p++
				continue
			}
			if (C[p] == "}") {
				p++
				return
			}
			fail("expected , or }")
		}
	}
	if (c == "[") {
		p++
		ws()
		if (C[p] == "]") {
			p++
			return
		}
		for (i = 0;; i++) {
			value(path == "" ? i : path "." i, depth + 1)
			ws()
			if (C[p] == ",") {
				p++
				continue
			}
			if (C[p] == "]") {
				p++
				return
			}
			fail("expected , or ]")
		}
	}
	if (c == "\"") {
		f = file(path)
		printf "" > f
		str(f)
		return
	}
	literal(path)
}

{
	s = s $0 "\n"
}

END {
	if (failed)
		exit 1
	if (dir == "") {
		print "json: no -v dir=DIR" > "/dev/stderr"
		exit 1
	}
	n = split(s, C, "")
	p = 1
	value("", 0)
	ws()
	if (p <= n)
		fail("bytes after the value")
	exit 0
}
