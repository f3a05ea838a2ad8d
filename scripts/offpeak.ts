import { main } from './cli/main.ts';

// A reader that closes the pipe early (`offpeak history | head`) is not a failure of the
// command: keep going (an upgrade must not stop half-way because nobody reads its output).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

process.exitCode = await main(process.argv.slice(2));
