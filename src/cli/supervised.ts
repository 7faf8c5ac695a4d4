/** When `cesar start` runs this process (with an IPC channel), tell it this part is ready. */
export function reportReady(details: Record<string, unknown>): void {
  if (typeof process.send === 'function') process.send({ type: 'ready', ...details });
}
