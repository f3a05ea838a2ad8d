/**
 * Parses PostgreSQL's text form of an array (`{1,2,NULL}`, `{"a b","c\"d"}`,
 * `{{1,2},{3,4}}`, with an optional `[1:2]=` bounds prefix) into nested lists
 * of element texts.
 */
export type ArrayText = Array<string | null | ArrayText>;

export function parseArrayText(text: string, delimiter = ','): ArrayText {
  let i = 0;
  if (text[0] === '[') i = text.indexOf('=') + 1;

  function parseList(): ArrayText {
    const items: ArrayText = [];
    i++; // '{'
    if (text[i] === '}') {
      i++;
      return items;
    }
    for (;;) {
      if (text[i] === '{') {
        items.push(parseList());
      } else if (text[i] === '"') {
        let value = '';
        i++;
        while (text[i] !== '"') {
          if (text[i] === '\\') i++;
          value += text[i];
          i++;
        }
        i++;
        items.push(value);
      } else {
        let j = i;
        while (text[j] !== delimiter && text[j] !== '}') j++;
        const raw = text.slice(i, j).trim();
        items.push(raw === 'NULL' ? null : raw);
        i = j;
      }
      if (text[i] === delimiter) {
        i++;
        continue;
      }
      i++; // '}'
      return items;
    }
  }

  return parseList();
}
