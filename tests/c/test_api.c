/* The rest of the API against a C server in the same process: compose, send_mail through a
 * smarthost, the pool, an AUTH callback, the log callback, replies built and serialised, and
 * the JSON forms of what hooks are handed; the server options beyond the API's list; a client's
 * getters answering while another thread's send is in flight; relay mode through a queue. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

struct state {
    pthread_mutex_t lock;
    int messages, logs, auth_calls;
    char last_envelope[1024], last_session[1024], last_params[256];
    size_t last_len;
};

static pw_hook_result on_mail(void *ud, const pw_session *s, const char *address, const pw_params *params,
                              pw_reply_out *reply) {
    (void)s, (void)address, (void)reply;
    struct state *st = ud;
    char *json = NULL;
    if (pw_params_to_json(params, &json) == PW_OK) {
        snprintf(st->last_params, sizeof st->last_params, "%s", json);
        pw_string_free(json);
    }
    return PW_HOOK_ACCEPT;
}

static pw_hook_result on_message(void *ud, const pw_session *s, const pw_envelope *env, const uint8_t *data,
                                 size_t len, pw_reply_out *reply) {
    (void)data, (void)reply;
    struct state *st = ud;
    char *json = NULL;
    if (pw_envelope_to_json(env, &json) == PW_OK) {
        snprintf(st->last_envelope, sizeof st->last_envelope, "%s", json);
        pw_string_free(json);
    }
    if (pw_session_to_json(s, &json) == PW_OK) {
        snprintf(st->last_session, sizeof st->last_session, "%s", json);
        pw_string_free(json);
    }
    st->last_len = len;
    st->messages++;
    return PW_HOOK_ACCEPT;
}

static bool check_auth(void *ud, const char *user, const char *password) {
    struct state *st = ud;
    st->auth_calls++;
    return strcmp(user, "bob") == 0 && strcmp(password, "hunter2") == 0;
}

static void on_log(void *ud, pw_log_level level, const char *target, const char *message) {
    struct state *st = ud;
    pthread_mutex_lock(&st->lock);
    if (level <= PW_LOG_INFO && strncmp(target, "postwire", 8) == 0 && message[0] != '\0') st->logs++;
    pthread_mutex_unlock(&st->lock);
}

/* A hook that holds the message until the main thread lets it go. */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int entered, released;
};

static pw_hook_result held_message(void *ud, const pw_session *s, const pw_envelope *env, const uint8_t *data,
                                   size_t len, pw_reply_out *reply) {
    (void)s, (void)env, (void)data, (void)len, (void)reply;
    struct gate *g = ud;
    pthread_mutex_lock(&g->lock);
    g->entered = 1;
    pthread_cond_broadcast(&g->cond);
    while (!g->released) pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    return PW_HOOK_ACCEPT;
}

struct sender {
    pw_client *c;
    pw_status st;
};

static void *send_one(void *arg) {
    struct sender *sd = arg;
    const char *rcpt[] = {"ann@example.test"};
    const char *m = "Subject: held\r\n\r\nx\r\n";
    pw_send_result *r = NULL;
    sd->st = pw_client_send(sd->c, "me@example.org", rcpt, 1, (const uint8_t *)m, strlen(m), &r);
    pw_send_result_free(r);
    return NULL;
}

/* A pw_client's getters answer while another thread's send waits for the server (the core's
 * ClientHandle snapshot): the send is held in on_message until the getters returned, so a getter
 * that waited for the call would never return. */
static void getters_do_not_wait_for_a_call(void) {
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    const char *domains[] = {"example.test"};
    pw_server_options so = {0};
    so.hostname = "mx.held.example.test";
    so.local_domains = domains;
    so.local_domains_len = 1;
    so.user_data = &g;
    so.on_message = held_message;
    so.hook_timeout_ms = 600000;
    pw_server *srv = NULL;
    OK(pw_server_new(&so, &srv));
    pw_socket_addr addr;
    OK(pw_server_listen(srv, "127.0.0.1", 0, &addr));
    OK(pw_server_start(srv));
    pw_client_options co = {0};
    co.host = "127.0.0.1";
    co.port = addr.port;
    co.tls = PW_TLS_NONE;
    co.record_transcript = PW_SWITCH_ON;
    struct sender sd = {NULL, PW_OK};
    OK(pw_client_connect(&co, &sd.c));
    if (sd.c) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, send_one, &sd) == 0, "thread");
        pthread_mutex_lock(&g.lock);
        while (!g.entered) pthread_cond_wait(&g.cond, &g.lock);
        pthread_mutex_unlock(&g.lock);
        /* The send is in flight now. */
        char *tr = NULL, *caps = NULL;
        OK(pw_client_transcript(sd.c, &tr));
        CHECK(contains(tr, "EHLO"), "transcript as of the last call: %s", tr);
        OK(pw_client_capabilities_to_json(sd.c, &caps));
        CHECK(contains(caps, "PIPELINING"), "capabilities %s", caps);
        CHECK(!pw_client_closed(sd.c) && !pw_client_tls(sd.c), "state getters");
        pw_string_free(tr);
        pw_string_free(caps);
        pthread_mutex_lock(&g.lock);
        g.released = 1;
        pthread_cond_broadcast(&g.cond);
        pthread_mutex_unlock(&g.lock);
        pthread_join(t, NULL);
        CHECK(sd.st == PW_OK, "the held send went through: %s", pw_status_name(sd.st));
        OK(pw_client_quit(sd.c));
        pw_client_free(sd.c);
    }
    OK(pw_server_stop(srv));
    pw_server_free(srv);
}

/* A client session to `port` (no TLS): NULL with the status in *st when it could not open. */
static pw_client *connect_to(uint16_t port, pw_status *st) {
    pw_client_options co = {0};
    co.host = "127.0.0.1";
    co.port = port;
    co.tls = PW_TLS_NONE;
    co.timeout_ms = 20000;
    pw_client *c = NULL;
    *st = pw_client_connect(&co, &c);
    return c;
}

/* What the DSN test's hooks saw: the MAIL and RCPT parameters as JSON. */
static struct {
    pthread_mutex_t lock;
    char mail[512], rcpt[512];
} dsn_seen = {PTHREAD_MUTEX_INITIALIZER, "", ""};

static void keep_params(char *buf, size_t n, const pw_params *params) {
    char *json = NULL;
    if (pw_params_to_json(params, &json) == PW_OK) {
        pthread_mutex_lock(&dsn_seen.lock);
        snprintf(buf, n, "%s", json);
        pthread_mutex_unlock(&dsn_seen.lock);
        pw_string_free(json);
    }
}

static pw_hook_result dsn_mail(void *ud, const pw_session *s, const char *address, const pw_params *params,
                               pw_reply_out *reply) {
    (void)ud, (void)s, (void)address, (void)reply;
    keep_params(dsn_seen.mail, sizeof dsn_seen.mail, params);
    return PW_HOOK_ACCEPT;
}

static pw_hook_result dsn_rcpt(void *ud, const pw_session *s, const char *address, const pw_params *params,
                               pw_reply_out *reply) {
    (void)ud, (void)s, (void)address, (void)reply;
    keep_params(dsn_seen.rcpt, sizeof dsn_seen.rcpt, params);
    return PW_HOOK_ACCEPT;
}

/* The ServerOptions fields beyond the API's list reach the core from pw_server_options:
 * advertise_dsn, maildir_layout, max_connections_per_ip with connection_limit_exceptions,
 * max_junk_commands; a bad value is PW_INVALID_INPUT naming the option. */
static void server_options_reach_the_core(void) {
    char dir[] = "/tmp/pw-c-layout-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char delivery[128];
    snprintf(delivery, sizeof delivery, "maildir:%s", dir);
    const char *domains[] = {"example.test"};
    const char *exempt[] = {"192.0.2.0/24"}; /* loopback is not exempt: the limit applies */
    pw_server_options so = {0};
    so.hostname = "mx.options.example.test";
    so.local_domains = domains;
    so.local_domains_len = 1;
    so.delivery = delivery;
    so.maildir_layout = "per-recipient";
    so.advertise_dsn = PW_SWITCH_ON;
    so.max_connections_per_ip = 1;
    so.connection_limit_exceptions = exempt;
    so.connection_limit_exceptions_len = 1;
    so.max_junk_commands = 2;
    so.min_data_rate = PW_NO_LIMIT;
    so.on_mail_from = dsn_mail;
    so.on_rcpt_to = dsn_rcpt;
    pw_server *srv = NULL;
    OK(pw_server_new(&so, &srv));
    pw_socket_addr addr;
    OK(pw_server_listen(srv, "127.0.0.1", 0, &addr));
    OK(pw_server_start(srv));

    pw_status st;
    pw_client *c = connect_to(addr.port, &st);
    CHECK(c != NULL, "first session: %s", pw_status_name(st));
    if (c) {
        bool present = false;
        char *params = NULL;
        OK(pw_client_capability(c, "DSN", &present, &params));
        CHECK(present, "advertise_dsn: DSN offered");
        pw_string_free(params);
        /* One session per address: the second is turned away with 421. */
        pw_client *c2 = connect_to(addr.port, &st);
        CHECK(c2 == NULL && st == PW_TRANSIENT && pw_last_error_reply() &&
                  pw_reply_code(pw_last_error_reply()) == 421,
              "max_connections_per_ip: %s", pw_status_name(st));
        pw_client_free(c2);
        /* Per-recipient Maildir: <dir>/example.test/ann/new/<file>; the send carries DSN
         * parameters (pw_client_send_with), which the server offering DSN hands its hooks. */
        const char *rcpt[] = {"ann@example.test"};
        const char *m = "Subject: layout\r\n\r\nx\r\n";
        pw_send_options dsn = {"hdrs", "E-C-1", "SUCCESS,FAILURE", PW_SWITCH_ON};
        pw_send_result *r = NULL;
        OK(pw_client_send_with(c, "me@example.org", rcpt, 1, (const uint8_t *)m, strlen(m), &dsn, &r));
        pw_send_result_free(r);
        pthread_mutex_lock(&dsn_seen.lock);
        CHECK(contains(dsn_seen.mail, "\"RET\"") && contains(dsn_seen.mail, "HDRS") &&
                  contains(dsn_seen.mail, "E-C-1"),
              "MAIL parameters %s", dsn_seen.mail);
        CHECK(contains(dsn_seen.rcpt, "SUCCESS,FAILURE") && contains(dsn_seen.rcpt, "rfc822;ann@example.test"),
              "RCPT parameters %s", dsn_seen.rcpt);
        pthread_mutex_unlock(&dsn_seen.lock);
        dsn.dsn_ret = "most";
        FAILS(PW_INVALID_INPUT, pw_client_send_with(c, "me@example.org", rcpt, 1, (const uint8_t *)m, strlen(m),
                                                    &dsn, &r));
        /* max_junk_commands = 2: the third NOOP in a row closes the session with 421. */
        pw_reply *rep = NULL;
        OK(pw_client_noop(c, &rep));
        pw_reply_free(rep);
        OK(pw_client_noop(c, &rep));
        pw_reply_free(rep);
        /* (NOOP hands back whatever reply came, as smtplib's noop() does.) */
        rep = NULL;
        OK(pw_client_noop(c, &rep));
        CHECK(rep && pw_reply_code(rep) == 421, "junk limit: %u", rep ? pw_reply_code(rep) : 0);
        pw_reply_free(rep);
        CHECK(pw_client_closed(c), "the server closed the session");
        pw_client_free(c);
        /* The pool carries the same options (pw_pool_send_with). */
        pw_pool_options po = {0};
        pw_pool *pool = NULL;
        OK(pw_pool_new(&po, &pool));
        pw_client_options dest = {0};
        dest.host = "127.0.0.1";
        dest.port = addr.port;
        dest.tls = PW_TLS_NONE;
        const char *bob[] = {"bob@example.test"};
        pw_send_options pooled = {"full", "E-C-2", NULL, PW_SWITCH_DEFAULT};
        OK(pw_pool_send_with(pool, &dest, "me@example.org", bob, 1, (const uint8_t *)m, strlen(m), &pooled, &r));
        CHECK(r && pw_send_result_accepted_count(r) == 1, "pooled send with options");
        pw_send_result_free(r);
        pthread_mutex_lock(&dsn_seen.lock);
        CHECK(contains(dsn_seen.mail, "FULL") && contains(dsn_seen.mail, "E-C-2"), "pooled MAIL parameters %s",
              dsn_seen.mail);
        pthread_mutex_unlock(&dsn_seen.lock);
        pooled.dsn_ret = "most";
        r = NULL;
        FAILS(PW_INVALID_INPUT,
              pw_pool_send_with(pool, &dest, "me@example.org", bob, 1, (const uint8_t *)m, strlen(m), &pooled, &r));
        CHECK(r == NULL, "nothing sent");
        OK(pw_pool_close(pool));
        pw_pool_free(pool);
    }
    OK(pw_server_stop(srv));
    pw_server_free(srv);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test \"$(ls %s/example.test/ann/new | wc -l)\" -eq 1 && rm -rf %s", dir, dir);
    CHECK(system(cmd) == 0, "one message in %s/example.test/ann/new", dir);

    so.maildir_layout = "/absolute/{user}";
    srv = NULL;
    FAILS(PW_INVALID_INPUT, pw_server_new(&so, &srv));
    CHECK(contains(pw_last_error_message(), "maildir"), "%s", pw_last_error_message());
    so.maildir_layout = NULL;
    so.advertise_dsn = 7;
    FAILS(PW_INVALID_INPUT, pw_server_new(&so, &srv));
    CHECK(srv == NULL, "nothing made");
}

/* Relay mode from C: a server with delivery "queue:DIR" answers 250 once the message is in its
 * queue and relays it through queue_smarthost to a second server (a Maildir) on loopback. */
static void relay_mode_reaches_the_smarthost(void) {
    char spool[] = "/tmp/pw-c-spool-XXXXXX";
    char box[] = "/tmp/pw-c-box-XXXXXX";
    CHECK(mkdtemp(spool) != NULL && mkdtemp(box) != NULL, "mkdtemp");
    char final_delivery[128], relay_delivery[128], smarthost[64];
    snprintf(final_delivery, sizeof final_delivery, "maildir:%s", box);
    snprintf(relay_delivery, sizeof relay_delivery, "queue:%s", spool);
    const char *domains[] = {"example.test"};
    pw_server_options fo = {0};
    fo.hostname = "mx.final.example.test";
    fo.local_domains = domains;
    fo.local_domains_len = 1;
    fo.delivery = final_delivery;
    pw_server *final_srv = NULL;
    OK(pw_server_new(&fo, &final_srv));
    pw_socket_addr fa;
    OK(pw_server_listen(final_srv, "127.0.0.1", 0, &fa));
    OK(pw_server_start(final_srv));
    snprintf(smarthost, sizeof smarthost, "127.0.0.1:%u", fa.port);

    const char *nets[] = {"127.0.0.0/8"};
    uint64_t retry[] = {200};
    pw_server_options so = {0};
    so.hostname = "relay.example.org";
    so.relay_networks = nets;
    so.relay_networks_len = 1;
    so.delivery = relay_delivery;
    so.queue_smarthost = smarthost;
    so.allow_loopback = PW_SWITCH_ON;
    so.queue_retry_ms = retry;
    so.queue_retry_len = 1;
    so.queue_max_age_ms = 60000;
    pw_server *relay = NULL;
    OK(pw_server_new(&so, &relay));
    pw_socket_addr ra;
    OK(pw_server_listen(relay, "127.0.0.1", 0, &ra));
    OK(pw_server_start(relay));

    pw_status st;
    pw_client *c = connect_to(ra.port, &st);
    CHECK(c != NULL, "connect to the relay: %s", pw_status_name(st));
    if (c) {
        bool present = false;
        char *params = NULL;
        OK(pw_client_capability(c, "DSN", &present, &params));
        CHECK(present, "a server with a queue offers DSN");
        pw_string_free(params);
        const char *rcpt[] = {"ann@example.test"};
        const char *m = "Subject: relayed\r\n\r\nthrough the queue\r\n";
        pw_send_result *r = NULL;
        OK(pw_client_send(c, "me@example.org", rcpt, 1, (const uint8_t *)m, strlen(m), &r));
        CHECK(r && pw_send_result_accepted_count(r) == 1, "accepted by the relay");
        pw_send_result_free(r);
        OK(pw_client_quit(c));
        pw_client_free(c);
    }
    /* The queue runner relays it: wait (bounded) for the file in the final Maildir. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test \"$(ls %s/new 2>/dev/null | wc -l)\" -eq 1", box);
    int arrived = 0;
    for (int i = 0; i < 300 && !arrived; i++) {
        arrived = system(cmd) == 0;
        if (!arrived) nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    CHECK(arrived, "the relayed message is in %s/new", box);
    OK(pw_server_stop(relay));
    pw_server_free(relay);
    OK(pw_server_stop(final_srv));
    pw_server_free(final_srv);
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", spool, box);
    CHECK(system(cmd) == 0, "cleanup");

    /* Relay-mode options without a queue are a mistake, named; a retry list needs its array. */
    pw_server_options bad = {0};
    bad.queue_smarthost = "127.0.0.1:25";
    pw_server *none = NULL;
    FAILS(PW_INVALID_INPUT, pw_server_new(&bad, &none));
    CHECK(contains(pw_last_error_message(), "queue_smarthost"), "%s", pw_last_error_message());
    bad.queue_smarthost = NULL;
    bad.delivery = "queue:/tmp/pw-c-never";
    bad.queue_retry_len = 1;
    FAILS(PW_NULL_PARAMETER, pw_server_new(&bad, &none));
    CHECK(none == NULL, "nothing made");
}

/* hooks_inline: the hooks are called on the server's own threads; a refusal still reaches the
 * client, and a value that is not a pw_switch is refused. */
static atomic_int inline_calls;
static atomic_int inline_on_runtime_thread;
static atomic_int inline_stop_refused;
static pw_server *inline_srv;

static pw_hook_result inline_rcpt(void *ud, const pw_session *s, const char *address, const pw_params *params,
                                  pw_reply_out *reply) {
    (void)ud, (void)s, (void)params;
    atomic_fetch_add(&inline_calls, 1);
    /* Inline means a runtime thread ("postwire-rt"), not the hook thread ("postwire-hooks"). */
    char name[32] = "";
    FILE *f = fopen("/proc/thread-self/comm", "r");
    if (f) {
        if (!fgets(name, sizeof name, f)) name[0] = '\0';
        fclose(f);
    }
    if (strncmp(name, "postwire-rt", 11) == 0) atomic_fetch_add(&inline_on_runtime_thread, 1);
    /* Stopping (and waiting) from the server's own hook would wait for itself: refused, nothing
     * stopped. */
    if (pw_server_stop(inline_srv) == PW_INVALID_INPUT && pw_server_wait(inline_srv) == PW_INVALID_INPUT)
        atomic_fetch_add(&inline_stop_refused, 1);
    if (strncmp(address, "nobody@", 7) == 0) {
        pw_reply_out_set(reply, 550, "5.1.1 no such user here");
        return PW_HOOK_REFUSE;
    }
    return PW_HOOK_ACCEPT;
}

static void inline_hooks_answer_in_place(void) {
    const char *domains[] = {"example.test"};
    pw_server_options so = {0};
    so.hostname = "mx.inline.example.test";
    so.local_domains = domains;
    so.local_domains_len = 1;
    so.delivery = "discard";
    so.hooks_inline = PW_SWITCH_ON;
    so.on_rcpt_to = inline_rcpt;
    pw_server *srv = NULL;
    OK(pw_server_new(&so, &srv));
    inline_srv = srv;
    pw_socket_addr addr;
    OK(pw_server_listen(srv, "127.0.0.1", 0, &addr));
    OK(pw_server_start(srv));
    pw_status st;
    pw_client *c = connect_to(addr.port, &st);
    CHECK(c != NULL, "connect: %s", pw_status_name(st));
    if (c) {
        const char *rcpt[] = {"ann@example.test", "nobody@example.test"};
        const char *m = "Subject: inline\r\n\r\nx\r\n";
        pw_send_result *r = NULL;
        OK(pw_client_send(c, "me@example.org", rcpt, 2, (const uint8_t *)m, strlen(m), &r));
        CHECK(r && pw_send_result_accepted_count(r) == 1 && pw_send_result_rejected_count(r) == 1,
              "one accepted, one refused by the inline hook");
        pw_send_result_free(r);
        OK(pw_client_quit(c));
        pw_client_free(c);
    }
    OK(pw_server_stop(srv));
    pw_server_free(srv);
    CHECK(atomic_load(&inline_calls) == 2, "the inline hook ran for both recipients: %d", atomic_load(&inline_calls));
    CHECK(atomic_load(&inline_on_runtime_thread) == 2, "on a runtime thread: %d", atomic_load(&inline_on_runtime_thread));
    CHECK(atomic_load(&inline_stop_refused) == 2, "stop/wait from the hook refused: %d", atomic_load(&inline_stop_refused));
    so.hooks_inline = 9;
    srv = NULL;
    FAILS(PW_INVALID_INPUT, pw_server_new(&so, &srv));
    CHECK(contains(pw_last_error_message(), "hooks_inline"), "%s", pw_last_error_message());
}

int main(void) {
    struct state st;
    memset(&st, 0, sizeof st);
    pthread_mutex_init(&st.lock, NULL);
    CHECK(strlen(pw_version()) > 0, "version");
    OK(pw_set_log_callback(PW_LOG_INFO, on_log, &st));
    FAILS(PW_INVALID_INPUT, pw_set_log_level(9));

    /* Replies: built, serialised, parsed back. */
    pw_reply *r = NULL;
    OK(pw_reply_new(550, "5.7.1 relaying denied\nsee policy", "", &r));
    CHECK(pw_reply_code(r) == 550 && strcmp(pw_reply_enhanced(r), "5.7.1") == 0, "enhanced code recognised");
    CHECK(pw_reply_line_count(r) == 2 && strcmp(pw_reply_line(r, 1), "see policy") == 0, "lines");
    char *wire = NULL;
    size_t wire_len = 0;
    OK(pw_reply_to_wire(r, &wire, &wire_len));
    CHECK(strcmp(wire, "550-5.7.1 relaying denied\r\n550 5.7.1 see policy\r\n") == 0, "wire %s", wire);
    pw_reply *back = NULL;
    size_t used = 0;
    OK(pw_reply_parse((const uint8_t *)wire, wire_len, 0, 0, &back, &used));
    CHECK(back && used == wire_len && strcmp(pw_reply_text(back), pw_reply_text(r)) == 0, "round trip");
    pw_reply_free(back);
    back = r; /* must be overwritten with NULL: more bytes needed */
    OK(pw_reply_parse((const uint8_t *)wire, 10, 0, 0, &back, &used));
    CHECK(back == NULL && used == 0, "incomplete reply");
    FAILS(PW_PROTOCOL, pw_reply_parse((const uint8_t *)"hello\r\n", 7, 0, 0, &back, &used));
    pw_string_free(wire);
    char *json = NULL;
    OK(pw_reply_to_json(r, &json));
    CHECK(contains(json, "\"code\":550") && contains(json, "\"enhanced\":\"5.7.1\""), "reply JSON %s", json);
    pw_string_free(json);
    pw_reply_free(r);

    /* Compose. */
    const char *to[] = {"Ann <ann@example.test>"};
    const char *bcc[] = {"hidden@example.test"};
    pw_header headers[] = {{"Reply-To", "replies@example.org"}};
    const uint8_t blob[] = {0, 1, 2, 3, 255};
    pw_attachment att[] = {{"data.bin", "application/octet-stream", blob, sizeof blob}};
    pw_compose_options co = {0};
    co.from = "Me <me@example.org>";
    co.to = to;
    co.to_len = 1;
    co.bcc = bcc;
    co.bcc_len = 1;
    co.subject = "Grüße";
    co.text = "Hello from C.\n";
    co.headers = headers;
    co.headers_len = 1;
    co.attachments = att;
    co.attachments_len = 1;
    co.has_date = true;
    co.date = 1700000000;
    co.message_id = "<c-test@example.org>";
    char *msg = NULL;
    size_t msg_len = 0;
    OK(pw_compose(&co, &msg, &msg_len));
    CHECK(msg && strlen(msg) == msg_len, "composed message is text");
    CHECK(contains(msg, "Reply-To: replies@example.org") && contains(msg, "Message-ID: <c-test@example.org>"),
          "headers in %s", msg);
    CHECK(!contains(msg, "hidden@example.test"), "Bcc never in the message");
    CHECK(contains(msg, "data.bin") && contains(msg, "=?utf-8?"), "attachment and encoded subject");
    co.from = "bad address";
    char *bad = NULL;
    size_t bad_len = 0;
    FAILS(PW_INVALID_INPUT, pw_compose(&co, &bad, &bad_len));
    CHECK(bad == NULL && bad_len == 0, "nothing written on failure");

    /* A server with an AUTH callback; every hook on one library thread. */
    const char *domains[] = {"example.test"};
    pw_server_options so = {0};
    so.hostname = "mx.api.example.test";
    so.local_domains = domains;
    so.local_domains_len = 1;
    so.allow_insecure_auth = PW_SWITCH_ON;
    so.user_data = &st;
    so.on_mail_from = on_mail;
    so.on_message = on_message;
    so.auth = check_auth;
    pw_server *srv = NULL;
    OK(pw_server_new(&so, &srv));
    pw_socket_addr addr;
    OK(pw_server_listen(srv, "localhost", 0, &addr));
    OK(pw_server_start(srv));

    /* send_mail through the server as smarthost, authenticated by the callback. */
    const char *rcpts[] = {"ann@example.test", "hidden@example.test"};
    pw_send_mail_options sm = {0};
    sm.session.host = addr.ip;
    sm.session.port = addr.port;
    sm.session.tls = PW_TLS_NONE;
    sm.session.allow_plaintext_auth = PW_SWITCH_ON;
    sm.session.auth_user = "bob";
    sm.session.auth_password = "hunter2";
    pw_recipient_results *res = NULL;
    OK(pw_send_mail("me@example.org", rcpts, 2, (const uint8_t *)msg, msg_len, &sm, &res));
    CHECK(pw_recipient_results_count(res) == 2, "one result per recipient");
    pw_recipient_result rr;
    OK(pw_recipient_results_get(res, 1, &rr));
    CHECK(rr.ok && strcmp(rr.rcpt, "hidden@example.test") == 0 && pw_reply_code(rr.reply) == 250 &&
              rr.error == PW_OK && rr.error_message == NULL,
          "second recipient delivered");
    OK(pw_recipient_results_to_json(res, &json));
    CHECK(contains(json, "\"ok\":true"), "results JSON %s", json);
    pw_string_free(json);
    pw_recipient_results_free(res);
    CHECK(contains(st.last_envelope, "\"rcpt_to\":[\"ann@example.test\",\"hidden@example.test\"]"), "envelope %s",
          st.last_envelope);
    CHECK(contains(st.last_session, "\"authenticated_user\":\"bob\""), "session %s", st.last_session);
    CHECK(contains(st.last_params, "\"SIZE\""), "MAIL parameters %s", st.last_params);
    CHECK(st.last_len > msg_len, "the hook sees the message with our Received line");

    /* send_mail with a wrong password: attempted, every recipient failed with PW_AUTH. */
    sm.session.auth_password = "nope";
    OK(pw_send_mail("me@example.org", rcpts, 1, (const uint8_t *)msg, msg_len, &sm, &res));
    OK(pw_recipient_results_get(res, 0, &rr));
    CHECK(!rr.ok && rr.error == PW_AUTH && rr.error_message != NULL, "auth failure per recipient");
    pw_recipient_results_free(res);

    /* The pool: five sends to one destination reuse one session. */
    pw_pool_options po = {0};
    pw_pool *pool = NULL;
    OK(pw_pool_new(&po, &pool));
    pw_client_options dest = {0};
    dest.host = "127.0.0.1";
    dest.port = addr.port;
    dest.tls = PW_TLS_NONE;
    for (int i = 0; i < 5; i++) {
        pw_send_result *sr = NULL;
        OK(pw_pool_send(pool, &dest, "me@example.org", rcpts, 1, (const uint8_t *)msg, msg_len, &sr));
        CHECK(sr && pw_send_result_accepted_count(sr) == 1, "pooled send %d", i);
        pw_send_result_free(sr);
    }
    pw_pool_stats ps;
    OK(pw_pool_get_stats(pool, &ps));
    CHECK(ps.created == 1 && ps.reused == 4, "one session, reused: created %llu reused %llu",
          (unsigned long long)ps.created, (unsigned long long)ps.reused);
    OK(pw_pool_close(pool));
    pw_send_result *sr = NULL;
    FAILS(PW_INVALID_INPUT, pw_pool_send(pool, &dest, "me@example.org", rcpts, 1, (const uint8_t *)msg, msg_len, &sr));
    pw_pool_free(pool);
    pw_string_free(msg);

    OK(pw_server_stop(srv));
    pw_server_free(srv);
    CHECK(st.messages == 6, "messages seen by the hook: %d", st.messages);
    CHECK(st.auth_calls == 2, "auth callback calls: %d", st.auth_calls);
    pw_log_flush();
    pthread_mutex_lock(&st.lock);
    CHECK(st.logs > 0, "log records forwarded: %d", st.logs);
    pthread_mutex_unlock(&st.lock);
    OK(pw_set_log_level(PW_LOG_OFF));
    server_options_reach_the_core();
    relay_mode_reaches_the_smarthost();
    inline_hooks_answer_in_place();
    getters_do_not_wait_for_a_call();
    return finish("test_api");
}
