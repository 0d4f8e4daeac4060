/* The shared protocol vectors (tests/vectors/NAME.json, format in tests/vectors/README.md) through
 * the C API: replies parsed and built with pw_reply_parse / pw_reply_new / pw_reply_to_wire and
 * read back with the pw_reply accessors; command lines and addresses through pw_parse_command
 * and pw_parse_address, every `expect` key compared with the JSON they return; the relay
 * checker's probe matrix and verdicts (relay_probes.json).
 *   test_vectors VECTOR_DIR */
#include "common.h"

#include <jansson.h>

static json_t *load(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t e;
    json_t *v = json_load_file(path, JSON_ALLOW_NUL, &e);
    if (!v || !json_is_array(v) || json_array_size(v) == 0) {
        fprintf(stderr, "cannot load %s: %s\n", path, e.text);
        exit(2);
    }
    return v;
}

/* Every key of `expect` has the same value in `actual`. */
static void subset(const char *what, json_t *expect, json_t *actual) {
    const char *key;
    json_t *want;
    json_object_foreach(expect, key, want) {
        json_t *got = json_object_get(actual, key);
        char *w = json_dumps(want, JSON_ENCODE_ANY), *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
        CHECK(got && json_equal(want, got), "%s: %s: want %s, got %s", what, key, w, g ? g : "(missing)");
        free(w);
        free(g);
    }
}

/* A JSON string's bytes (the vectors write CR, LF and NUL as escapes). */
static const char *bytes_of(json_t *s, size_t *len) {
    *len = json_string_length(s);
    return json_string_value(s);
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

static void commands(const char *dir) {
    json_t *all = load(dir, "commands.json");
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v) {
        uint8_t buf[2048];
        size_t len;
        json_t *line = json_object_get(v, "line");
        if (line) {
            const char *s = bytes_of(line, &len);
            if (len > sizeof buf) len = sizeof buf;
            memcpy(buf, s, len);
        } else {
            const char *hex = json_string_value(json_object_get(v, "line_hex"));
            len = strlen(hex) / 2;
            for (size_t k = 0; k < len && k < sizeof buf; k++) buf[k] = (uint8_t)(hexval(hex[2 * k]) << 4 | hexval(hex[2 * k + 1]));
        }
        char what[64];
        snprintf(what, sizeof what, "commands.json #%zu", i);
        bool strict = json_is_true(json_object_get(v, "strict")), utf8 = json_is_true(json_object_get(v, "smtputf8"));
        char *out = NULL;
        pw_status st = pw_parse_command(buf, len, strict, utf8, &out);
        json_t *expect = json_object_get(v, "expect");
        if (expect) {
            CHECK(st == PW_OK, "%s: refused", what);
            if (st != PW_OK) continue;
            json_t *got = json_loads(out, 0, NULL);
            subset(what, expect, got);
            json_decref(got);
            pw_string_free(out);
        } else {
            json_t *err = json_object_get(v, "error");
            CHECK(st == PW_INVALID_INPUT && out == NULL, "%s: expected a refusal", what);
            const pw_reply *r = pw_last_error_reply();
            CHECK(r && pw_reply_code(r) == json_integer_value(json_object_get(err, "code")), "%s: code %u", what,
                  pw_reply_code(r));
            json_t *enh = json_object_get(err, "enhanced");
            if (enh && json_is_string(enh))
                CHECK(pw_reply_enhanced(r) && strcmp(pw_reply_enhanced(r), json_string_value(enh)) == 0,
                      "%s: enhanced %s", what, pw_reply_enhanced(r));
            if (st == PW_OK) pw_string_free(out);
        }
    }
    json_decref(all);
}

static void addresses(const char *dir) {
    json_t *all = load(dir, "addresses.json");
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v) {
        char what[64];
        snprintf(what, sizeof what, "addresses.json #%zu", i);
        char *out = NULL;
        pw_status st = pw_parse_address(json_string_value(json_object_get(v, "input")),
                                        json_string_value(json_object_get(v, "kind")),
                                        json_is_true(json_object_get(v, "strict")),
                                        json_is_true(json_object_get(v, "smtputf8")), &out);
        json_t *expect = json_object_get(v, "expect");
        if (!expect) {
            CHECK(st == PW_INVALID_INPUT, "%s: expected a refusal", what);
            if (st == PW_OK) pw_string_free(out);
            continue;
        }
        CHECK(st == PW_OK, "%s: refused", what);
        if (st != PW_OK) continue;
        json_t *got = json_loads(out, 0, NULL);
        subset(what, expect, got);
        json_decref(got);
        pw_string_free(out);
    }
    json_decref(all);
}

static void replies(const char *dir) {
    json_t *all = load(dir, "replies.json");
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v) {
        char what[128];
        snprintf(what, sizeof what, "replies.json #%zu %s", i, json_string_value(json_object_get(v, "name")));
        size_t len;
        const char *wire = bytes_of(json_object_get(v, "wire"), &len);
        json_t *build = json_object_get(v, "build");
        if (build) {
            json_t *enh = json_object_get(build, "enhanced");
            pw_reply *r = NULL;
            OK(pw_reply_new((uint16_t)json_integer_value(json_object_get(build, "code")),
                            json_string_value(json_object_get(build, "text")),
                            json_is_string(enh) ? json_string_value(enh) : "", &r));
            char *out = NULL;
            size_t out_len = 0;
            OK(pw_reply_to_wire(r, &out, &out_len));
            CHECK(out_len == len && memcmp(out, wire, len) == 0, "%s: built %s", what, out);
            pw_string_free(out);
            pw_reply_free(r);
            continue;
        }
        size_t max_line = 0, max_lines = 0;
        json_t *limits = json_object_get(v, "limits");
        if (limits) {
            max_line = (size_t)json_integer_value(json_object_get(limits, "max_line"));
            max_lines = (size_t)json_integer_value(json_object_get(limits, "max_lines"));
        }
        pw_reply *r = NULL;
        size_t used = 0;
        pw_status st = pw_reply_parse((const uint8_t *)wire, len, max_line, max_lines, &r, &used);
        if (json_is_string(json_object_get(v, "error"))) {
            CHECK(st == PW_PROTOCOL, "%s: expected a protocol error, got %s", what, pw_status_name(st));
            pw_reply_free(r);
            continue;
        }
        CHECK(st == PW_OK, "%s: parse failed", what);
        if (json_is_true(json_object_get(v, "incomplete"))) {
            CHECK(r == NULL && used == 0, "%s: expected incomplete", what);
            pw_reply_free(r);
            continue;
        }
        CHECK(r != NULL, "%s: incomplete", what);
        if (!r) continue;
        json_t *lines = json_array();
        for (size_t k = 0; k < pw_reply_line_count(r); k++) json_array_append_new(lines, json_string(pw_reply_line(r, k)));
        const char *enh = pw_reply_enhanced(r);
        json_t *got = json_pack("{s:i, s:o, s:o, s:i}", "code", (json_int_t)pw_reply_code(r), "enhanced",
                                enh ? json_string(enh) : json_null(), "lines", lines, "consumed", (json_int_t)used);
        subset(what, json_object_get(v, "expect"), got);
        json_decref(got);
        pw_reply_free(r);
    }
    json_decref(all);
}

/* relay_probes.json: the probe matrix for its server context (pw_relay_probes_to_json, compared
 * probe for probe), reply → verdict (pw_relay_classify), verdicts → open / inconclusive
 * (pw_relay_summarise). */
static void relay_probes(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/relay_probes.json", dir);
    json_error_t e;
    json_t *all = json_load_file(path, 0, &e);
    if (!all || !json_is_object(all)) {
        fprintf(stderr, "cannot load %s: %s\n", path, e.text);
        exit(2);
    }
    json_t *c = json_object_get(all, "context");
#define CTX(k) json_string_value(json_object_get(c, k))
    pw_relay_probe_context ctx = {CTX("banner_name"), CTX("ehlo_name"), CTX("ip"),           CTX("domain"),
                                  CTX("from_user"),   CTX("to_user"),   CTX("internal_domain")};
#undef CTX
    char *json = NULL;
    OK(pw_relay_probes_to_json(&ctx, &json));
    json_t *ours = json ? json_loads(json, 0, &e) : NULL, *want = json_object_get(all, "probes");
    CHECK(ours && json_array_size(ours) == json_array_size(want) && json_array_size(want) >= 40,
          "%zu probes, want %zu", ours ? json_array_size(ours) : 0, json_array_size(want));
    for (size_t i = 0; ours && i < json_array_size(want) && i < json_array_size(ours); i++) {
        char what[64];
        snprintf(what, sizeof what, "relay probe %zu", i);
        subset(what, json_array_get(want, i), json_array_get(ours, i));
    }
    json_decref(ours);
    pw_string_free(json);

    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(all, "verdicts"), i, v) {
        pw_reply *r = NULL;
        const char *verdict = NULL;
        OK(pw_reply_new((uint16_t)json_integer_value(json_object_get(v, "code")),
                        json_string_value(json_object_get(v, "text")), "", &r));
        OK(pw_relay_classify(r, &verdict));
        const char *want_v = json_string_value(json_object_get(v, "verdict"));
        CHECK(verdict && strcmp(verdict, want_v) == 0, "verdict %zu: %s, want %s", i, verdict, want_v);
        pw_reply_free(r);
    }
    json_array_foreach(json_object_get(all, "summaries"), i, v) {
        json_t *vs = json_object_get(v, "verdicts");
        const char *names[64];
        size_t n = 0;
        for (; n < json_array_size(vs) && n < 64; n++) names[n] = json_string_value(json_array_get(vs, n));
        bool open = false, inconclusive = false;
        OK(pw_relay_summarise(names, n, &open, &inconclusive));
        CHECK(open == json_is_true(json_object_get(v, "open")) &&
                  inconclusive == json_is_true(json_object_get(v, "inconclusive")),
              "summary %zu", i);
    }
    const char *bogus[] = {"maybe"};
    bool o1, o2;
    FAILS(PW_INVALID_INPUT, pw_relay_summarise(bogus, 1, &o1, &o2));
    json_decref(all);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_vectors VECTOR_DIR\n");
        return 2;
    }
    commands(argv[1]);
    addresses(argv[1]);
    replies(argv[1]);
    relay_probes(argv[1]);
    return finish("test_vectors");
}
