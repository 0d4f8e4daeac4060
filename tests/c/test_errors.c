/* Every error kind's status from real failures on loopback: a closed port (PW_CONNECT), a
 * listener that never greets (PW_TIMEOUT), STARTTLS required but not offered (PW_TLS), a wrong
 * password (PW_AUTH), a greeting that is no SMTP reply (PW_PROTOCOL), a hook answering 554
 * (PW_REJECTED) and 451 (PW_TRANSIENT), MX routing without a name server (PW_DNS), a CR/LF in
 * an address and bad option values (PW_INVALID_INPUT), a Maildir that cannot be made (PW_IO).
 * The status names and numbers are checked against the API contract's list. */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* A listening socket on 127.0.0.1 (backlog only: connections complete and are never served). */
static int listener(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("listener");
        exit(2);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Accept one connection, greet it with something that is no SMTP reply, wait for it to close. */
static void *garbage_server(void *arg) {
    int fd = *(int *)arg;
    int c = accept(fd, NULL, NULL);
    if (c >= 0) {
        const char *junk = "hello, this is no SMTP server\r\n";
        if (write(c, junk, strlen(junk)) < 0) perror("write");
        char buf[512];
        while (read(c, buf, sizeof buf) > 0) {
        }
        close(c);
    }
    return NULL;
}

static pw_client_options client_opts(int port) {
    pw_client_options o = {0};
    o.host = "127.0.0.1";
    o.port = (uint16_t)port;
    o.tls = PW_TLS_NONE;
    o.hello_name = "errors.example.test";
    o.timeout_ms = 5000;
    return o;
}

static pw_hook_result refuse_message(void *ud, const pw_session *s, const pw_envelope *env, const uint8_t *data,
                                     size_t len, pw_reply_out *reply) {
    (void)ud, (void)s, (void)data, (void)len;
    const char *rcpt = pw_envelope_rcpt(env, 0);
    if (strcmp(rcpt, "later@example.test") == 0) pw_reply_out_set(reply, 451, "4.3.0 try later");
    else pw_reply_out_set(reply, 554, "5.7.1 not wanted");
    return PW_HOOK_REFUSE;
}

int main(void) {
    /* The status numbers of the contract, with their names. */
    const char *names[] = {"ok", "connect", "timeout", "tls", "auth", "protocol",
                           "rejected", "transient", "dns", "invalid_input", "io"};
    pw_status numbers[] = {PW_OK, PW_CONNECT, PW_TIMEOUT, PW_TLS, PW_AUTH, PW_PROTOCOL,
                           PW_REJECTED, PW_TRANSIENT, PW_DNS, PW_INVALID_INPUT, PW_IO};
    for (unsigned i = 0; i < 11; i++) {
        CHECK(numbers[i] == i, "%s is %u", names[i], numbers[i]);
        CHECK(strcmp(pw_status_name(i), names[i]) == 0, "name of %u", i);
    }
    CHECK(strcmp(pw_status_name(PW_PANIC), "panic") == 0, "panic name");
    CHECK(strcmp(pw_status_name(PW_NULL_PARAMETER), "null_parameter") == 0, "null name");
    CHECK(pw_status_name(11) == NULL, "11 is no status");

    pw_client *c = NULL;

    /* PW_CONNECT: a port nobody listens on any more. */
    int closed_port;
    close(listener(&closed_port));
    pw_client_options o = client_opts(closed_port);
    FAILS(PW_CONNECT, pw_client_connect(&o, &c));
    CHECK(c == NULL, "out-parameter untouched on failure");
    CHECK(pw_last_error_reply() == NULL, "no server answered");

    /* PW_TIMEOUT: connected, never greeted. */
    int silent_port, silent = listener(&silent_port);
    o = client_opts(silent_port);
    o.timeout_ms = 300;
    FAILS(PW_TIMEOUT, pw_client_connect(&o, &c));
    close(silent);

    /* PW_PROTOCOL: a greeting that is no reply. */
    int junk_port, junk = listener(&junk_port);
    pthread_t t;
    pthread_create(&t, NULL, garbage_server, &junk);
    o = client_opts(junk_port);
    FAILS(PW_PROTOCOL, pw_client_connect(&o, &c));
    pthread_join(t, NULL);
    close(junk);

    /* PW_DNS: MX routing (send_mail without a smarthost) asking a name server that is not there
     * (a closed port on loopback): every recipient fails with the dns kind. */
    pw_send_mail_options sm = {0};
    char ns[64];
    snprintf(ns, sizeof ns, "127.0.0.1:%d", closed_port);
    const char *nameservers[] = {ns};
    sm.nameservers = nameservers;
    sm.nameservers_len = 1;
    sm.session.timeout_ms = 2000;
    const char *dns_rcpt[] = {"someone@example.test"};
    pw_recipient_results *res = NULL;
    OK(pw_send_mail("a@example.test", dns_rcpt, 1, (const uint8_t *)"x\r\n", 3, &sm, &res));
    pw_recipient_result rr = {0};
    OK(pw_recipient_results_get(res, 0, &rr));
    CHECK(!rr.ok && rr.error == PW_DNS, "resolution failure is dns: %s (%s)", pw_status_name(rr.error),
          rr.error_message ? rr.error_message : "");
    pw_recipient_results_free(res);

    /* PW_INVALID_INPUT: bad option values, before anything is attempted. */
    o = client_opts(closed_port);
    o.tls = 99;
    FAILS(PW_INVALID_INPUT, pw_client_connect(&o, &c));
    CHECK(contains(pw_last_error_message(), "tls"), "the message names the option: %s", pw_last_error_message());
    o = client_opts(closed_port);
    o.accept_invalid_certs = 7;
    FAILS(PW_INVALID_INPUT, pw_client_connect(&o, &c));
    o.accept_invalid_certs = PW_SWITCH_DEFAULT;
    o.host = NULL;
    FAILS(PW_INVALID_INPUT, pw_client_connect(&o, &c));

    /* PW_IO: a Maildir under a file cannot be made. */
    pw_server *srv = NULL;
    pw_server_options so = {0};
    so.hostname = "mx.errors.example.test";
    so.delivery = "maildir:/dev/null/maildir";
    FAILS(PW_IO, pw_server_new(&so, &srv));
    CHECK(srv == NULL, "no server written on failure");
    so.delivery = "queue:"; /* a queue needs its spool directory */
    FAILS(PW_INVALID_INPUT, pw_server_new(&so, &srv));

    /* A server of our own for AUTH, TLS and refusals. */
    const char *domains[] = {"example.test"};
    pw_credential users[] = {{"alice", "s3cret"}};
    so.delivery = NULL;
    so.local_domains = domains;
    so.local_domains_len = 1;
    so.auth_users = users;
    so.auth_users_len = 1;
    so.allow_insecure_auth = PW_SWITCH_ON;
    so.on_message = refuse_message;
    OK(pw_server_new(&so, &srv));
    pw_socket_addr addr;
    OK(pw_server_listen(srv, "127.0.0.1", 0, &addr));
    OK(pw_server_start(srv));

    /* PW_TLS: STARTTLS required, not offered. */
    o = client_opts(addr.port);
    o.tls = PW_TLS_STARTTLS;
    FAILS(PW_TLS, pw_client_connect(&o, &c));

    /* PW_AUTH: a wrong password (at connect, with auth_user), then the right one. */
    o = client_opts(addr.port);
    o.allow_plaintext_auth = PW_SWITCH_ON;
    o.auth_user = "alice";
    o.auth_password = "wrong";
    FAILS(PW_AUTH, pw_client_connect(&o, &c));
    CHECK(pw_reply_code(pw_last_error_reply()) == 535, "535 attached: %u", pw_reply_code(pw_last_error_reply()));
    o.auth_password = "s3cret";
    OK(pw_client_connect(&o, &c));

    /* PW_REJECTED and PW_TRANSIENT: the hook refuses after the data. */
    const char *msg = "Subject: x\r\n\r\nx\r\n";
    const char *rcpt[] = {"someone@example.test"};
    pw_send_result *r = NULL;
    FAILS(PW_REJECTED, pw_client_send(c, "a@example.test", rcpt, 1, (const uint8_t *)msg, strlen(msg), &r));
    CHECK(pw_reply_code(pw_last_error_reply()) == 554, "554 attached");
    CHECK(strcmp(pw_reply_enhanced(pw_last_error_reply()), "5.7.1") == 0, "enhanced code kept");
    const char *later[] = {"later@example.test"};
    FAILS(PW_TRANSIENT, pw_client_send(c, "a@example.test", later, 1, (const uint8_t *)msg, strlen(msg), &r));
    CHECK(pw_reply_code(pw_last_error_reply()) == 451, "451 attached");
    CHECK(r == NULL, "no result on failure");

    /* PW_INVALID_INPUT: CR/LF in an address; nothing sent, the session still usable. */
    FAILS(PW_INVALID_INPUT,
          pw_client_send(c, "a@example.test\r\nRCPT TO:<x@y>", rcpt, 1, (const uint8_t *)msg, strlen(msg), &r));
    pw_reply *reply = NULL;
    OK(pw_client_noop(c, &reply));
    CHECK(pw_reply_code(reply) == 250, "session usable");
    pw_reply_free(reply);
    OK(pw_client_quit(c));
    /* PW_PROTOCOL: a call on a closed session. */
    FAILS(PW_PROTOCOL, pw_client_noop(c, &reply));
    pw_client_free(c);

    /* PW_NULL_PARAMETER and the last error surviving successful calls and frees. */
    FAILS(PW_NULL_PARAMETER, pw_client_connect(NULL, &c));
    CHECK(contains(pw_last_error_message(), "opts"), "names the argument: %s", pw_last_error_message());
    pw_client_free(NULL);
    CHECK(pw_last_error_status() == PW_NULL_PARAMETER, "free(NULL) leaves the last error alone");
    pw_last_error_clear();
    CHECK(pw_last_error_status() == PW_OK && strcmp(pw_last_error_message(), "") == 0, "cleared");

    OK(pw_server_stop(srv));
    pw_server_stats st;
    OK(pw_server_get_stats(srv, &st));
    CHECK(st.messages_rejected == 2, "two messages refused: %llu", (unsigned long long)st.messages_rejected);
    pw_server_free(srv);
    return finish("test_errors");
}
