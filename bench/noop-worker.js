/**
 * The stack bench's no-op worker trainer: for each job line on stdin, the result line it was given as
 * its argument, written at once. It reads stdin in blocks, so a job costs a read and a write.
 */
const result = `${process.argv[2]}\n`;
process.stdin.on('data', (chunk) => {
  let lines = 0;
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  if (lines) process.stdout.write(result.repeat(lines));
});
