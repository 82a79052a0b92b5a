/**
 * Orders versions as the Durable Task SDKs do: empty is oldest; dotted numbers compare as numbers; anything
 * else compares as text, ignoring case.
 */
export function compareVersions(a: string, b: string): number {
  if (a.trim() === '' && b.trim() === '') return 0;
  if (a.trim() === '') return -1;
  if (b.trim() === '') return 1;
  if (a === b) return 0;
  // System.Version's form: two to four dotted numbers ('1' alone is compared as text).
  const numeric = /^\d+(\.\d+){1,3}$/;
  if (numeric.test(a) && numeric.test(b)) {
    const left = a.split('.').map(Number);
    const right = b.split('.').map(Number);
    for (let i = 0; i < Math.max(left.length, right.length); i++) {
      const difference = (left[i] ?? -1) - (right[i] ?? -1);
      if (difference !== 0) return Math.sign(difference);
    }
    return 0;
  }
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}
