/** Sorts in place, stably; by insertion for short lists (Array#sort allocates a work copy per call). */
export function sortInPlace<T>(list: T[], cmp: (a: T, b: T) => number): void {
  if (list.length > 16) {
    list.sort(cmp);
    return;
  }
  for (let i = 1; i < list.length; i++) {
    const x = list[i] as T;
    let j = i - 1;
    while (j >= 0 && cmp(list[j] as T, x) > 0) {
      list[j + 1] = list[j] as T;
      j--;
    }
    list[j + 1] = x;
  }
}
