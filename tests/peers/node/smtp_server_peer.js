// Node's smtp-server as a test peer for the postwire client.
//
// Listens on 127.0.0.1 (ephemeral port), prints `READY <port>` on stdout and writes every
// accepted message to --dir as <n>.eml (bytes as smtp-server hands them over) and <n>.json
// (envelope, tls, auth user). Exits when its stdin closes.
//
//   node smtp_server_peer.js --dir D [--cert C --key K [--implicit]] [--auth user:pass]
//                            [--size N [--hide-size]] [--refuse addr] [--no-pipelining]
'use strict';

const fs = require('fs');
const path = require('path');
const { SMTPServer } = require('smtp-server');

const args = { refuse: [] };
for (let i = 2; i < process.argv.length; i++) {
    const a = process.argv[i];
    const next = () => process.argv[++i];
    switch (a) {
        case '--dir': args.dir = next(); break;
        case '--cert': args.cert = next(); break;
        case '--key': args.key = next(); break;
        case '--implicit': args.implicit = true; break;
        case '--auth': args.auth = next(); break;
        case '--size': args.size = Number(next()); break;
        case '--refuse': args.refuse.push(next().toLowerCase()); break;
        case '--no-pipelining': args.noPipelining = true; break;
        case '--hide-size': args.hideSize = true; break;
        default: console.error(`unknown argument ${a}`); process.exit(2);
    }
}

let count = 0;
const options = {
    secure: !!args.implicit,
    name: 'smtp-server.test',
    banner: 'node smtp-server test peer',
    logger: false,
    size: args.size || 0,
    hidePIPELINING: !!args.noPipelining,
    hideSize: !!args.hideSize,
    authOptional: true,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
    onAuth(auth, session, cb) {
        if (!args.auth) return cb(new Error('AUTH not configured'));
        const [user, pass] = args.auth.split(/:(.*)/s);
        if (auth.method === 'XOAUTH2') {
            if (auth.username === user && auth.accessToken === pass) return cb(null, { user });
            return cb(null, { data: { status: '401', schemes: 'bearer' } });
        }
        if (auth.username === user && auth.password === pass) return cb(null, { user });
        return cb(new Error('Invalid username or password'));
    },
    onRcptTo(address, session, cb) {
        if (args.refuse.includes(address.address.toLowerCase())) {
            const err = new Error('No such user here');
            err.responseCode = 550;
            return cb(err);
        }
        cb();
    },
    onData(stream, session, cb) {
        const chunks = [];
        stream.on('data', (c) => chunks.push(c));
        stream.on('end', () => {
            if (stream.sizeExceeded) {
                const err = new Error('Message exceeds fixed maximum message size');
                err.responseCode = 552;
                return cb(err);
            }
            count += 1;
            const n = String(count).padStart(4, '0');
            if (args.dir) {
                const base = path.join(args.dir, n);
                fs.writeFileSync(base + '.eml.tmp', Buffer.concat(chunks));
                fs.writeFileSync(base + '.json', JSON.stringify({
                    mail_from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                    mail_args: session.envelope.mailFrom ? session.envelope.mailFrom.args : null,
                    rcpt_tos: session.envelope.rcptTo.map((r) => r.address),
                    tls: !!session.secure,
                    user: session.user || null,
                }));
                fs.renameSync(base + '.eml.tmp', base + '.eml');
            }
            cb(null, `OK: queued as NODE${n}`);
        });
    },
};
if (args.cert) {
    options.cert = fs.readFileSync(args.cert);
    options.key = fs.readFileSync(args.key);
} else {
    options.disabledCommands = ['STARTTLS'];
}

const server = new SMTPServer(options);
server.on('error', (e) => console.error('peer error:', e.message));
server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`READY ${server.server.address().port}\n`);
});
process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
