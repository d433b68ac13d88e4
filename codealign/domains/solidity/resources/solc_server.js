// Loads one solc-js compiler once and answers standard-JSON compiles.
//
//   node solc_server.js MODULE_DIR [WRAPPER_DIR] --once IN.json OUT.json   one compile, file to file
//   node solc_server.js MODULE_DIR [WRAPPER_DIR] --socket PATH             a server on a Unix socket
//   node solc_server.js MODULE_DIR [WRAPPER_DIR] --version                 prints the full version
//
// MODULE_DIR is an installed npm `solc` package. WRAPPER_DIR (optional) is a newer `solc` package whose
// wrapper.js wraps MODULE_DIR's soljson.js: solc 0.4.1-0.4.10 ship a wrapper without a standard-JSON
// entry point, and the wrapper of 0.4.26 translates standard JSON for them.
//
// Socket protocol: the client writes one standard-JSON input and half-closes; the server writes the
// standard-JSON output and closes. Output goes to files or sockets, never to a pipe on stdout, because
// solc-js output above 64 KiB is cut when the process exits with an unflushed pipe.
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');

const args = process.argv.slice(2);
const moduleDir = args[0];
let wrapperDir = null;
let rest = args.slice(1);
if (rest.length && !rest[0].startsWith('--')) {
  wrapperDir = rest[0];
  rest = rest.slice(1);
}

function loadCompiler() {
  if (wrapperDir) {
    const wrapper = require(path.join(wrapperDir, 'wrapper.js'));
    return wrapper(require(path.join(moduleDir, 'soljson.js')));
  }
  return require(moduleDir);
}

const solc = loadCompiler();

function compile(inputText) {
  try {
    JSON.parse(inputText);
  } catch (err) {
    return JSON.stringify({errors: [{type: 'JSONError', component: 'general', severity: 'error',
      message: 'input is not JSON: ' + err.message, formattedMessage: 'input is not JSON: ' + err.message}]});
  }
  if (typeof solc.compileStandardWrapper === 'function') {
    return solc.compileStandardWrapper(inputText);
  }
  return solc.compile(inputText);
}

const mode = rest[0];
if (mode === '--version') {
  fs.writeFileSync(1, solc.version() + '\n');
} else if (mode === '--once') {
  fs.writeFileSync(rest[2], compile(fs.readFileSync(rest[1], 'utf8')));
} else if (mode === '--socket') {
  const server = net.createServer((conn) => {
    const chunks = [];
    conn.on('data', (chunk) => chunks.push(chunk));
    conn.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const reply = text === 'version\n' ? solc.version() : compile(text);
      conn.end(reply);
    });
    conn.on('error', () => conn.destroy());
  });
  server.listen(rest[1], () => fs.writeFileSync(rest[1] + '.ready', String(process.pid)));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
} else {
  process.stderr.write('usage: solc_server.js MODULE_DIR [WRAPPER_DIR] --once IN OUT | --socket PATH | --version\n');
  process.exit(2);
}
