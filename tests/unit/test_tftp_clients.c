/* TFTP transfers per client address (rack/tftp/clients): the bookkeeping
 * behind tftp_max_transfers_per_client, without sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "rack/tftp/clients.h"

static struct tftp_client_key v4(const char *addr, uint16_t port)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct tftp_client_key k;
	assert_int_equal(inet_pton(AF_INET, addr, &in.sin_addr), 1);
	assert_int_equal(tftp_client_key_of((struct sockaddr *)&in, &k), 0);
	return k;
}

static struct tftp_client_key v6(const char *addr, uint16_t port)
{
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct tftp_client_key k;
	assert_int_equal(inet_pton(AF_INET6, addr, &in6.sin6_addr), 1);
	assert_int_equal(tftp_client_key_of((struct sockaddr *)&in6, &k), 0);
	return k;
}

static void test_key_ignores_port_and_maps_v4(void **state)
{
	struct tftp_client_key a = v4("198.51.100.2", 1000), b = v4("198.51.100.2", 60000);
	struct tftp_client_key m = v6("::ffff:198.51.100.2", 7), o = v4("198.51.100.3", 1000);
	struct tftp_client_key g = v6("2001:db8::2", 1);

	assert_memory_equal(&a, &b, sizeof(a));
	assert_memory_equal(&a, &m, sizeof(a));
	assert_memory_not_equal(&a, &o, sizeof(a));
	assert_memory_not_equal(&a, &g, sizeof(a));
	struct sockaddr sa = {.sa_family = AF_UNIX};
	struct tftp_client_key k;
	assert_int_equal(tftp_client_key_of(&sa, &k), -EAFNOSUPPORT);
}

static void test_limit_per_address(void **state)
{
	struct tftp_clients c;
	struct tftp_client_key a = v4("198.51.100.2", 1), other = v4("198.51.100.9", 1);

	tftp_clients_init(&c);
	for (int i = 0; i < 16; i++)
		assert_int_equal(tftp_clients_take(&c, &a, 16), 0);
	assert_int_equal(tftp_clients_count(&c, &a), 16);
	/* The 17th from the same host (any port, or its v4-mapped form) is
	 * refused and changes nothing ... */
	assert_int_equal(tftp_clients_take(&c, &a, 16), -EUSERS);
	struct tftp_client_key mapped = v6("::ffff:198.51.100.2", 9);
	assert_int_equal(tftp_clients_take(&c, &mapped, 16), -EUSERS);
	assert_int_equal(tftp_clients_count(&c, &a), 16);
	/* ... while another host is not affected. */
	assert_int_equal(tftp_clients_count(&c, &other), 0);
	assert_int_equal(tftp_clients_take(&c, &other, 16), 0);
	/* One ends: room for one more. */
	tftp_clients_put(&c, &a);
	assert_int_equal(tftp_clients_take(&c, &a, 16), 0);
	assert_int_equal(tftp_clients_take(&c, &a, 16), -EUSERS);
	/* Limit 0: counted, never refused. */
	assert_int_equal(tftp_clients_take(&c, &a, 0), 0);
	assert_int_equal(tftp_clients_count(&c, &a), 17);
	tftp_clients_done(&c);
	assert_int_equal(c.n_entries, 0);
}

static void test_entries_freed_at_zero(void **state)
{
	struct tftp_clients c;
	char text[64];

	tftp_clients_init(&c);
	/* Many addresses, several per bucket: each counts on its own. */
	for (int i = 0; i < 2000; i++) {
		snprintf(text, sizeof(text), "2001:db8::%x", i);
		struct tftp_client_key k = v6(text, 69);
		assert_int_equal(tftp_clients_take(&c, &k, 2), 0);
		assert_int_equal(tftp_clients_take(&c, &k, 2), 0);
		assert_int_equal(tftp_clients_take(&c, &k, 2), -EUSERS);
	}
	assert_int_equal(c.n_entries, 2000);
	for (int i = 0; i < 2000; i++) {
		snprintf(text, sizeof(text), "2001:db8::%x", i);
		struct tftp_client_key k = v6(text, 69);
		assert_int_equal(tftp_clients_count(&c, &k), 2);
		tftp_clients_put(&c, &k);
		assert_int_equal(tftp_clients_count(&c, &k), 1);
		tftp_clients_put(&c, &k);
		assert_int_equal(tftp_clients_count(&c, &k), 0);
	}
	/* Nothing stays behind once every transfer has ended. */
	assert_int_equal(c.n_entries, 0);
	for (size_t i = 0; i < TFTP_CLIENTS_BUCKETS; i++)
		assert_null(c.buckets[i]);
	/* A put for a key never taken is ignored. */
	struct tftp_client_key k = v4("192.0.2.1", 69);
	tftp_clients_put(&c, &k);
	assert_int_equal(tftp_clients_count(&c, &k), 0);
	tftp_clients_done(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_ignores_port_and_maps_v4),
	    cmocka_unit_test(test_limit_per_address),
	    cmocka_unit_test(test_entries_freed_at_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
