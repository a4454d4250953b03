// How an error message shows the value it was given. Bad values are what these errors are about,
// so describing one must not fail: String() throws for a null-prototype object (as some decoders
// make) or one whose toString throws, and JSON.stringify for a BigInt, which would replace the
// error with a TypeError that carries no code.

/** A short text for `value` (strings quoted), at most `maxLength` characters and an ellipsis; never throws. */
export function describeValue(value: unknown, maxLength = 80): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    text = `a value of type ${typeof value} that cannot be shown as text`;
  }
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}
