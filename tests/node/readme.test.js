// The README's Node quick start runs as written, in a child process of its own, with
// `require('postwire')` resolving to the package under test (the checkout, or POSTWIRE_PACKAGE).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ROOT } = require('./helpers');

function nodeBlocks() {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = text.split('\n## Node\n')[1].split('\n## ')[0];
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
}

test('the README quick start runs and prints what it says', () => {
  const blocks = nodeBlocks();
  assert.ok(blocks.length > 0, 'README.md has no ```js block under ## Node');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postwire-readme-'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(process.env.POSTWIRE_PACKAGE || ROOT, path.join(dir, 'node_modules', 'postwire'), 'dir');
  for (const [i, code] of blocks.entries()) {
    const file = path.join(dir, `readme${i}.js`);
    fs.writeFileSync(file, code);
    const out = execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 60000 });
    assert.match(out, /^250 \[ 'you@example\.test' \]$/m, out);
  }
});
