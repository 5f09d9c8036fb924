#!/usr/bin/env node
// Calls greeter.v1.Greeter with @grpc/grpc-js, for the Python interop tests.
//
//   node greeter_client.js ADDRESS hello NAME
//   node greeter_client.js ADDRESS bidi NAME [NAME...]
//
// Each reply is printed on stdout as one JSON line, {"message": "..."}.
// A call that ends with a gRPC status other than OK prints
// {"error": {"code": 3, "name": "INVALID_ARGUMENT", "details": "..."}}
// and exits 1; bad usage or any other failure exits 2.
'use strict';

const path = require('node:path');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTOS = path.resolve(__dirname, '..', '..', '..', 'protos');
const DEADLINE_MS = 10000;

function loadGreeter() {
  const definition = protoLoader.loadSync('greeter/v1/greeter.proto', {
    includeDirs: [PROTOS],
    keepCase: true,
    defaults: true,
  });
  return grpc.loadPackageDefinition(definition).greeter.v1.Greeter;
}

function deadline() {
  return new Date(Date.now() + DEADLINE_MS);
}

function emit(value) {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function hello(client, name) {
  return new Promise((resolve, reject) => {
    client.Hello({ name }, { deadline: deadline() }, (err, reply) => {
      if (err) {
        reject(err);
        return;
      }
      emit({ message: reply.message });
      resolve();
    });
  });
}

// Sends the next name only after the reply to the previous one has come
// back: a server that waited for the end of the request stream before
// answering would hit the deadline instead of passing.
function bidiHello(client, names) {
  return new Promise((resolve, reject) => {
    const call = client.BidiHello({ deadline: deadline() });
    let next = 0;
    const sendNext = () => {
      if (next < names.length) {
        call.write({ name: names[next] });
        next += 1;
      } else {
        call.end();
      }
    };
    call.on('data', (reply) => {
      emit({ message: reply.message });
      sendNext();
    });
    call.on('error', reject);
    call.on('end', resolve);
    sendNext();
  });
}

function statusName(code) {
  return Object.keys(grpc.status).find((name) => grpc.status[name] === code);
}

async function main(argv) {
  const [address, command, ...names] = argv;
  const calls = {
    hello: (client) => hello(client, names[0]),
    bidi: (client) => bidiHello(client, names),
  };
  if (!address || !Object.hasOwn(calls, command) || names.length === 0) {
    process.stderr.write(
      'usage: greeter_client.js ADDRESS hello NAME | bidi NAME [NAME...]\n',
    );
    return 2;
  }

  const Greeter = loadGreeter();
  const client = new Greeter(address, grpc.credentials.createInsecure());
  try {
    await calls[command](client);
    return 0;
  } catch (err) {
    if (typeof err.code !== 'number') {
      throw err;
    }
    const name = statusName(err.code);
    emit({ error: { code: err.code, name, details: err.details } });
    return 1;
  } finally {
    client.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exitCode = 2;
  },
);
