// The browser test's checks: each named step runs once, its failure is reported and the next step still runs;
// the summary at the end decides the exit status.

let passed = 0;
const failures = [];

/** Runs one step of the test, printing `ok` or `FAIL` with the first lines of the error. */
export async function check(name, body) {
  const started = Date.now();
  try {
    await body();
    passed += 1;
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failures.push(name);
    console.log(`FAIL ${name}\n     ${String(error && error.stack ? error.stack : error).split('\n').slice(0, 6).join('\n     ')}`);
  }
}

/** The steps that passed and the names of those that failed, so far. */
export function results() {
  return { passed, failures: [...failures] };
}

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

export function assertEqual(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
