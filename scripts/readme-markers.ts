/** Replaces what stands between two marker lines of README.md (the markers stay). */
export function replaceBetween(readme: string, start: string, end: string, block: string): string {
  const begin = readme.indexOf(start);
  const finish = readme.indexOf(end);
  if (begin < 0 || finish < begin) throw new Error(`README.md has no ${start} ... ${end} markers`);
  return `${readme.slice(0, begin)}${start}\n${block}\n${readme.slice(finish)}`;
}
