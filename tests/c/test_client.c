/* The C client against real peers (run.py starts them and checks what they stored):
 *   test_client sink PORT      Postfix smtp-sink: 3 messages to 2 recipients on one session
 *   test_client aiosmtpd PORT  aiosmtpd refusing nobody@ and nobody2@: one recipient refused
 *                              in a send that succeeds, every recipient refused in one that
 *                              fails (the error lists both), VRFY/HELP/NOOP/RSET, transcript */
#include "common.h"

static pw_client *open_client(int port) {
    pw_client_options o = {0};
    o.host = "127.0.0.1";
    o.port = (uint16_t)port;
    o.tls = PW_TLS_NONE;
    o.hello_name = "c-test.example.test";
    o.timeout_ms = 10000;
    pw_client *c = NULL;
    OK(pw_client_connect(&o, &c));
    return c;
}

static void sink(int port) {
    pw_client *c = open_client(port);
    if (!c) return;
    bool present = false;
    char *params = NULL;
    OK(pw_client_capability(c, "pipelining", &present, &params));
    CHECK(present && params && strcmp(params, "") == 0, "PIPELINING advertised without parameters");
    pw_string_free(params);
    OK(pw_client_capability(c, "X-NOT-THERE", &present, &params));
    CHECK(!present && params == NULL, "absent capability");
    char *caps = NULL;
    OK(pw_client_capabilities_to_json(c, &caps));
    CHECK(contains(caps, "\"PIPELINING\""), "capabilities JSON: %s", caps);
    pw_string_free(caps);

    const char *rcpts[] = {"b@example.test", "c@example.test"};
    for (int i = 0; i < 3; i++) {
        char msg[256];
        int n = snprintf(msg, sizeof msg,
                         "From: a@example.test\r\nSubject: c message %d\r\n\r\n.dot line %d\n..\r\nend\r\n", i, i);
        pw_send_result *r = NULL;
        OK(pw_client_send(c, "a@example.test", rcpts, 2, (const uint8_t *)msg, (size_t)n, &r));
        if (!r) continue;
        CHECK(pw_send_result_accepted_count(r) == 2, "accepted %zu", pw_send_result_accepted_count(r));
        CHECK(strcmp(pw_send_result_accepted(r, 1), "c@example.test") == 0, "second accepted");
        CHECK(pw_send_result_accepted(r, 2) == NULL && pw_last_error_status() == PW_INVALID_INPUT,
              "accepted index past the end");
        CHECK(pw_send_result_rejected_count(r) == 0, "nothing refused");
        CHECK(pw_reply_code(pw_send_result_reply(r)) == 250, "final reply");
        pw_timings t;
        OK(pw_send_result_timings(r, &t));
        CHECK(t.mail_ms >= 0 && t.total_ms >= 0 && t.auth_ms == -1, "timings %lld %lld %lld",
              (long long)t.mail_ms, (long long)t.total_ms, (long long)t.auth_ms);
        char *json = NULL;
        OK(pw_send_result_to_json(r, &json));
        CHECK(contains(json, "\"accepted\":[\"b@example.test\",\"c@example.test\"]"), "JSON %s", json);
        pw_string_free(json);
        pw_send_result_free(r);
    }
    OK(pw_client_quit(c));
    CHECK(pw_client_closed(c), "closed after QUIT");
    pw_client_free(c);
}

static void aiosmtpd(int port) {
    pw_client *c = open_client(port);
    if (!c) return;
    pw_reply *banner = NULL;
    OK(pw_client_banner(c, &banner));
    CHECK(pw_reply_code(banner) == 220, "banner code");
    pw_reply_free(banner);

    /* One of three refused: the send succeeds, the refusal is in the result (RFC 821's example). */
    const char *three[] = {"one@example.test", "nobody@example.test", "two@example.test"};
    const char *msg = "From: a@example.test\r\nSubject: refusal test\r\n\r\nbody\r\n";
    pw_send_result *r = NULL;
    OK(pw_client_send(c, "a@example.test", three, 3, (const uint8_t *)msg, strlen(msg), &r));
    if (r) {
        CHECK(pw_send_result_accepted_count(r) == 2, "two accepted");
        CHECK(pw_send_result_rejected_count(r) == 1, "one refused");
        pw_rejected rej;
        OK(pw_send_result_rejected(r, 0, &rej));
        CHECK(strcmp(rej.rcpt, "nobody@example.test") == 0, "refused rcpt %s", rej.rcpt);
        CHECK(pw_reply_code(rej.reply) == 550, "refusal code %u", pw_reply_code(rej.reply));
        CHECK(contains(pw_reply_text(rej.reply), "No such user"), "refusal text %s", pw_reply_text(rej.reply));
        FAILS(PW_INVALID_INPUT, pw_send_result_rejected(r, 1, &rej));
        CHECK(strcmp(pw_send_result_queue_id(r), "AIO000001") == 0, "queue id %s", pw_send_result_queue_id(r));
        pw_send_result_free(r);
    }

    /* Every recipient refused: the send fails and the error lists every refusal. */
    const char *none[] = {"nobody@example.test", "nobody2@example.test"};
    r = NULL;
    FAILS(PW_REJECTED, pw_client_send(c, "a@example.test", none, 2, (const uint8_t *)msg, strlen(msg), &r));
    CHECK(r == NULL, "no result written on failure");
    CHECK(pw_reply_code(pw_last_error_reply()) == 550, "error reply");
    CHECK(pw_last_error_rejected_count() == 2, "both refusals on the error: %zu", pw_last_error_rejected_count());
    pw_rejected rej;
    OK(pw_last_error_rejected(1, &rej));
    CHECK(strcmp(rej.rcpt, "nobody2@example.test") == 0 && pw_reply_code(rej.reply) == 550, "second refusal");
    CHECK(pw_last_error_rejected(2, &rej) == PW_INVALID_INPUT && pw_last_error_status() == PW_REJECTED,
          "reading past the end leaves the last error alone");
    char *json = NULL;
    OK(pw_last_error_to_json(&json));
    CHECK(contains(json, "\"kind\":\"rejected\"") && contains(json, "nobody2@example.test"), "error JSON %s", json);
    pw_string_free(json);

    pw_reply *reply = NULL;
    OK(pw_client_noop(c, &reply));
    CHECK(pw_reply_code(reply) == 250, "NOOP");
    pw_reply_free(reply);
    OK(pw_client_reset(c, &reply));
    CHECK(pw_reply_code(reply) == 250, "RSET");
    pw_reply_free(reply);
    OK(pw_client_verify(c, "one@example.test", &reply));
    CHECK(pw_reply_code(reply) == 252, "VRFY answered 252 by aiosmtpd: %u", pw_reply_code(reply));
    pw_reply_free(reply);
    OK(pw_client_help(c, "", &reply));
    CHECK(pw_reply_code(reply) == 250 && pw_reply_line_count(reply) >= 1, "HELP");
    pw_reply_free(reply);

    char *transcript = NULL;
    OK(pw_client_transcript(c, &transcript));
    CHECK(contains(transcript, "C: EHLO c-test.example.test") && contains(transcript, "S: 550"),
          "transcript %s", transcript);
    pw_string_free(transcript);
    OK(pw_client_quit(c));
    pw_client_free(c);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: test_client sink|aiosmtpd PORT\n");
        return 2;
    }
    int port = atoi(argv[2]);
    if (strcmp(argv[1], "sink") == 0) sink(port);
    else aiosmtpd(port);
    return finish(argv[1]);
}
