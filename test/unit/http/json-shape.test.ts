import { checkJsonShape, MAX_JSON_DEPTH } from '../../../server/http/json-shape';

test('a body nested 100,000 deep is refused without overflowing the stack', () => {
  const deep = JSON.parse('['.repeat(100000) + ']'.repeat(100000)) as unknown;
  expect(checkJsonShape(deep)).toMatchObject({ code: 'too_deep' });
});

test('nesting up to the limit is accepted, one more level is not', () => {
  const nest = (n: number) => JSON.parse('{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1)) as unknown;
  expect(checkJsonShape(nest(MAX_JSON_DEPTH))).toBeNull();
  expect(checkJsonShape(nest(MAX_JSON_DEPTH + 1))).toMatchObject({ code: 'too_deep' });
});

test.each([
  ['$ne', { name: [{ $ne: 1 }] }, 'name[0].$ne'],
  ['a dotted key', { 'a.b': 1 }, 'a.b'],
  ['NUL', { ['x\u0000']: 1 }, 'x\u0000'],
  ['__proto__', JSON.parse('{"x":{"__proto__":{"admin":true}}}') as unknown, 'x.__proto__'],
  ['empty', { '': 1 }, ''],
])('%s as a key is refused with its path', (_n, value, path) => {
  expect(checkJsonShape(value)).toMatchObject({ code: 'invalid_key', path });
});

test('a NUL character in a text value is refused with its path, at any depth and at the root', () => {
  expect(checkJsonShape({ name: [{ family: 'a\u0000b' }] })).toMatchObject({ code: 'invalid_character', path: 'name[0].family' });
  expect(checkJsonShape('\u0000', 'payload')).toMatchObject({ code: 'invalid_character', path: 'payload' });
  expect(checkJsonShape({ text: 'no nul here: \\u0000 is six characters' })).toBeNull();
});

test('ordinary FHIR JSON passes, including $ and . inside values', () => {
  expect(checkJsonShape({ resourceType: 'Observation', code: { text: '$5.00 a.m.' }, valueQuantity: { value: 1.5, unit: 'mg/dL' } })).toBeNull();
});
