/* send: send mail from C with postwire.
 *
 *   cc send.c $(pkg-config --cflags --libs postwire) -o send
 *   ./send HOST PORT FROM TO [COUNT [SIZE]]
 *
 * Composes one message (SIZE bytes of body, default a short greeting) and sends it COUNT times
 * (default 1) to TO over one session, then prints what the server answered and the rate. */
#define _POSIX_C_SOURCE 200809L
#include <postwire.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fail(const char *what) {
    const pw_reply *reply = pw_last_error_reply();
    fprintf(stderr, "send: %s failed: %s [%s]\n", what, pw_last_error_message(),
            pw_status_name(pw_last_error_status()));
    if (reply) fprintf(stderr, "send: the server answered %u %s\n", pw_reply_code(reply), pw_reply_text(reply));
    for (size_t i = 0; i < pw_last_error_rejected_count(); i++) {
        pw_rejected r;
        if (pw_last_error_rejected(i, &r) == PW_OK)
            fprintf(stderr, "send: refused %s: %u %s\n", r.rcpt, pw_reply_code(r.reply), pw_reply_text(r.reply));
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: send HOST PORT FROM TO [COUNT [SIZE]]\n");
        return 2;
    }
    long count = argc > 5 ? atol(argv[5]) : 1;
    long size = argc > 6 ? atol(argv[6]) : 0;

    char *body = malloc((size_t)size + 64);
    if (!body) return 1;
    if (size > 0) {
        for (long i = 0; i < size; i++) body[i] = (i % 64 == 63) ? '\n' : 'x';
        body[size] = '\0';
    } else {
        strcpy(body, "Hello from C, through postwire.\n");
    }
    const char *to[] = {argv[4]};
    pw_compose_options mail = {0};
    mail.from = argv[3];
    mail.to = to;
    mail.to_len = 1;
    mail.subject = "postwire C example";
    mail.text = body;
    char *message = NULL;
    size_t message_len = 0;
    if (pw_compose(&mail, &message, &message_len) != PW_OK) return fail("compose");
    free(body);

    pw_client_options opts = {0}; /* zero fields: the library's defaults */
    opts.host = argv[1];
    opts.port = (uint16_t)atoi(argv[2]);
    opts.tls = PW_TLS_OPPORTUNISTIC;
    opts.timeout_ms = 30000;
    opts.record_transcript = PW_SWITCH_OFF; /* a long session's log would only grow */
    pw_client *client = NULL;
    if (pw_client_connect(&opts, &client) != PW_OK) {
        pw_string_free(message);
        return fail("connect");
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 0;
    for (long i = 0; i < count; i++) {
        pw_send_result *result = NULL;
        if (pw_client_send(client, argv[3], to, 1, (const uint8_t *)message, message_len, &result) != PW_OK) {
            rc = fail("send");
            break;
        }
        if (i == count - 1) {
            const pw_reply *r = pw_send_result_reply(result);
            const char *id = pw_send_result_queue_id(result);
            printf("server answered %u %s%s%s\n", pw_reply_code(r), pw_reply_text(r), id ? ", queue id " : "",
                   id ? id : "");
        }
        pw_send_result_free(result);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc == 0) printf("sent %ld messages of %zu bytes in %.3f s (%.0f msg/s)\n", count, message_len, secs,
                        secs > 0 ? (double)count / secs : 0.0);
    pw_client_quit(client);
    pw_client_free(client);
    pw_string_free(message);
    return rc;
}
