// Waiting for something the server does in the background (the mail worker, a flow's state).

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls until `check()` returns a truthy value, which it returns; throws `what` after timeoutMs.
export async function eventually(check, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}
