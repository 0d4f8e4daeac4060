/* A C server with hooks, driven by run.py with Python's smtplib and swaks:
 *   test_server MAILDIR
 * prints "READY <port>", serves until its stdin is closed, stops, checks what its hooks saw and
 * prints "STATS ..." for the runner. Hooks: on_rcpt_to refuses refused@example.test with
 * 550 5.1.1; on_message answers 451 4.3.2 to a message carrying "X-Test-Answer: 451" and
 * accepts the others (delivered to MAILDIR). */
#include "common.h"

#include <unistd.h>

struct seen {
    int connects, mails, rcpts, rcpts_refused, messages_accepted, messages_451;
    int received_on_top, peer_loopback, refused_in_envelope, size_param;
};

static pw_hook_result on_connect(void *ud, const pw_session *s, pw_reply_out *reply) {
    (void)reply;
    struct seen *seen = ud;
    seen->connects++;
    pw_socket_addr peer;
    if (pw_session_address(s, false, &peer) == PW_OK && strcmp(peer.ip, "127.0.0.1") == 0) seen->peer_loopback++;
    return PW_HOOK_ACCEPT;
}

static pw_hook_result on_mail_from(void *ud, const pw_session *s, const char *address, const pw_params *params,
                                   pw_reply_out *reply) {
    (void)s, (void)address, (void)reply;
    struct seen *seen = ud;
    seen->mails++;
    for (size_t i = 0; i < pw_params_count(params); i++) {
        pw_param p;
        if (pw_params_get(params, i, &p) == PW_OK && strcmp(p.keyword, "SIZE") == 0 && p.value) seen->size_param++;
    }
    return PW_HOOK_ACCEPT;
}

static pw_hook_result on_rcpt_to(void *ud, const pw_session *s, const char *address, const pw_params *params,
                                 pw_reply_out *reply) {
    (void)s, (void)params;
    struct seen *seen = ud;
    seen->rcpts++;
    if (strcmp(address, "refused@example.test") == 0) {
        seen->rcpts_refused++;
        if (pw_reply_out_set(reply, 550, "5.1.1 no such user here") != PW_OK) return PW_HOOK_ACCEPT;
        return PW_HOOK_REFUSE;
    }
    return PW_HOOK_ACCEPT;
}

static pw_hook_result on_message(void *ud, const pw_session *s, const pw_envelope *env, const uint8_t *data,
                                 size_t len, pw_reply_out *reply) {
    (void)s;
    struct seen *seen = ud;
    if (len > 9 && memcmp(data, "Received:", 9) == 0) seen->received_on_top++;
    for (size_t i = 0; i < pw_envelope_rcpt_count(env); i++)
        if (strcmp(pw_envelope_rcpt(env, i), "refused@example.test") == 0) seen->refused_in_envelope++;
    /* The bytes are not NUL-terminated: search within len. */
    const char *tag = "X-Test-Answer: 451";
    size_t tl = strlen(tag);
    for (size_t i = 0; i + tl <= len; i++) {
        if (memcmp(data + i, tag, tl) == 0) {
            seen->messages_451++;
            pw_reply_out_set(reply, 451, "4.3.2 try again later");
            return PW_HOOK_REFUSE;
        }
    }
    seen->messages_accepted++;
    return PW_HOOK_ACCEPT;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_server MAILDIR\n");
        return 2;
    }
    char delivery[4096];
    snprintf(delivery, sizeof delivery, "maildir:%s", argv[1]);
    struct seen seen = {0};
    const char *domains[] = {"example.test"};
    pw_server_options o = {0};
    o.hostname = "mx.c-test.example.test";
    o.local_domains = domains;
    o.local_domains_len = 1;
    o.delivery = delivery;
    o.user_data = &seen;
    o.on_connect = on_connect;
    o.on_mail_from = on_mail_from;
    o.on_rcpt_to = on_rcpt_to;
    o.on_message = on_message;
    o.timeouts.command_ms = 20000;
    pw_server *srv = NULL;
    OK(pw_server_new(&o, &srv));
    if (!srv) return finish("test_server");
    pw_socket_addr addr;
    OK(pw_server_listen(srv, "127.0.0.1", 0, &addr));
    OK(pw_server_start(srv));
    OK(pw_server_start(srv)); /* started once: the second start is the same server */
    CHECK(pw_server_running(srv), "running after start");
    pw_socket_addr late;
    FAILS(PW_INVALID_INPUT, pw_server_listen(srv, "127.0.0.1", 0, &late)); /* never served */
    CHECK(contains(pw_last_error_message(), "before start()"), "listen after start says why");
    printf("READY %u\n", addr.port);
    fflush(stdout);

    char buf[256];
    while (read(0, buf, sizeof buf) > 0) {
    }
    OK(pw_server_stop(srv));
    CHECK(!pw_server_running(srv), "not running after stop");
    /* A stopped server never serves again: a start or a listen says to make a new one. */
    FAILS(PW_INVALID_INPUT, pw_server_start(srv));
    CHECK(contains(pw_last_error_message(), "stopped; build a new Server"), "start after stop says why");
    FAILS(PW_INVALID_INPUT, pw_server_listen(srv, "127.0.0.1", 0, &late));
    CHECK(contains(pw_last_error_message(), "stopped; build a new Server"), "listen after stop says why");
    CHECK(!pw_server_running(srv), "a start after the stop serves nothing");
    pw_server_stats st;
    OK(pw_server_get_stats(srv, &st));
    pw_server_free(srv);

    CHECK(seen.connects == (int)st.connections, "on_connect per session: %d vs %llu", seen.connects,
          (unsigned long long)st.connections);
    CHECK(seen.peer_loopback == seen.connects, "peers on loopback");
    CHECK(seen.received_on_top == seen.messages_accepted + seen.messages_451, "Received line on top");
    CHECK(seen.refused_in_envelope == 0, "a refused recipient never reaches the envelope");
    CHECK(seen.rcpts_refused == (int)st.recipients_rejected, "refusals counted");
    CHECK(seen.messages_accepted == (int)st.messages_accepted, "accepted counted");
    CHECK(seen.messages_451 == (int)st.messages_rejected, "451s counted");
    printf("STATS connections=%llu accepted=%llu rejected=%llu rcpt_rejected=%llu size_params=%d\n",
           (unsigned long long)st.connections, (unsigned long long)st.messages_accepted,
           (unsigned long long)st.messages_rejected, (unsigned long long)st.recipients_rejected, seen.size_param);
    return finish("test_server");
}
