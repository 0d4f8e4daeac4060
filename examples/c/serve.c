/* serve: an SMTP server in C with postwire, counting the messages it accepts.
 *
 *   cc serve.c $(pkg-config --cflags --libs postwire) -o serve
 *   ./serve [HOST [PORT [DELIVERY]]]     e.g. ./serve 127.0.0.1 2525 maildir:./Maildir
 *
 * Accepts mail for example.test (and bench.test); the on_message hook counts each message and
 * accepts it. Prints "listening on IP:PORT", serves until SIGINT or SIGTERM, stops gracefully and
 * prints "received N messages". The hook runs on the server's threads (hooks_inline): the counter
 * is atomic, and read after pw_server_stop(), which returns once no hook runs any more. */
#define _POSIX_C_SOURCE 200809L
#include <postwire.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static pw_hook_result count_message(void *user_data, const pw_session *session, const pw_envelope *envelope,
                                    const uint8_t *data, size_t data_len, pw_reply_out *reply) {
    (void)session, (void)envelope, (void)data, (void)data_len, (void)reply;
    atomic_ullong *count = user_data;
    atomic_fetch_add(count, 1);
    return PW_HOOK_ACCEPT; /* or: pw_reply_out_set(reply, 550, "5.7.1 no thanks"); return PW_HOOK_REFUSE; */
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 2525;
    const char *delivery = argc > 3 ? argv[3] : NULL;

    /* Block the signals before the library starts its threads (they inherit the mask), then wait
     * for them here with sigwait: no library call from a signal handler. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    atomic_ullong count = 0;
    const char *domains[] = {"example.test", "bench.test"};
    pw_server_options opts = {0}; /* zero fields: the library's defaults */
    opts.hostname = "mx.example.test";
    opts.local_domains = domains;
    opts.local_domains_len = 2;
    opts.delivery = delivery;
    opts.max_connections = 1000;
    opts.user_data = &count;
    opts.on_message = count_message;
    /* count_message returns at once and never blocks: call it on the server's own threads, with
     * no hand-off to the hook thread. (Several may run at once: the counter is atomic.) */
    opts.hooks_inline = PW_SWITCH_ON;

    pw_server *server = NULL;
    pw_socket_addr addr;
    if (pw_server_new(&opts, &server) != PW_OK || pw_server_listen(server, host, (uint16_t)port, &addr) != PW_OK ||
        pw_server_start(server) != PW_OK) {
        fprintf(stderr, "serve: %s\n", pw_last_error_message());
        pw_server_free(server);
        return 1;
    }
    printf("listening on %s:%u\n", addr.ip, addr.port);
    fflush(stdout);

    int sig;
    sigwait(&stop_signals, &sig);
    pw_status st = pw_server_stop(server);
    pw_server_stats stats;
    pw_server_get_stats(server, &stats);
    pw_server_free(server);
    printf("received %llu messages (%llu sessions)\n", (unsigned long long)atomic_load(&count),
           (unsigned long long)stats.connections);
    return st == PW_OK ? 0 : 1;
}
