import { dateRange, extractKeys, normaliseText, searchParamType } from '../../../server/emr/search-params';
import { validateResource } from '../../../server/emr/validation';

describe('search-key extraction from the R4 SearchParameter FHIRPath expressions', () => {
  test('Patient: identifier, name (diacritics folded), birthdate, gender', () => {
    const keys = extractKeys({
      resourceType: 'Patient',
      id: 'p1',
      identifier: [{ system: 'http://fhir.ehealth.gov.vn/core/sid/citizen_id', value: '001090012345' }],
      name: [{ family: 'Nguyễn', given: ['Thị', 'Đào'], text: 'Nguyễn Thị Đào' }],
      birthDate: '1990-04-12',
      gender: 'female',
    });
    expect(keys.tokens).toEqual(
      expect.arrayContaining(['identifier|http://fhir.ehealth.gov.vn/core/sid/citizen_id|001090012345', 'identifier||001090012345', 'gender||female']),
    );
    expect(keys.strings).toEqual(expect.arrayContaining(['name|nguyen', 'name|dao', 'name|nguyen thi dao']));
    expect(keys.dates).toEqual([{ p: 'birthdate', lo: Date.UTC(1990, 3, 12), hi: Date.UTC(1990, 3, 12) + 86_399_999 }]);
    expect(keys.patientId).toBe('p1');
  });

  test('Observation: patient/subject, code, category, date, status and the compartment', () => {
    const keys = extractKeys({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: 'Patient/p1' },
      effectiveDateTime: '2024-05-01T08:30:00+07:00',
    });
    expect(keys.refs).toEqual(expect.arrayContaining(['patient|Patient/p1', 'subject|Patient/p1']));
    expect(keys.tokens).toEqual(expect.arrayContaining(['code|http://loinc.org|8867-4', 'category||vital-signs', 'status||final']));
    expect(keys.dates[0] ?? {}).toMatchObject({ p: 'date', lo: Date.parse('2024-05-01T01:30:00Z') });
    expect(keys.patientId).toBe('p1');
  });

  test('types, dates, text and care-team facilities', () => {
    expect(searchParamType('Condition', 'code')).toBe('token');
    expect(searchParamType('Patient', 'birthdate')).toBe('date');
    expect(searchParamType('Patient', 'performer')).toBeUndefined();
    expect(dateRange('2024-02')).toEqual({ lo: Date.UTC(2024, 1, 1), hi: Date.UTC(2024, 2, 1) - 1 });
    expect(dateRange('nonsense')).toBeNull();
    expect(normaliseText('Đặng Văn Ứng')).toBe('dang van ung');
  });
});

describe('validation against the R4 JSON schema and StructureDefinitions', () => {
  test('wrong types, bad formats, unknown elements and missing required elements name their paths', () => {
    const issues = validateResource({ resourceType: 'Patient', birthDate: '1990-13-45', gender: 'x', name: [{ given: [1] }], foo: 1 });
    expect(issues.map((i) => i.expression).sort()).toEqual(['Patient.birthDate', 'Patient.foo', 'Patient.gender', 'Patient.name[0].given[0]']);
    const obs = validateResource({ resourceType: 'Observation', code: { text: 'x' } });
    expect(obs.map((i) => i.expression)).toEqual(['Observation.status']);
    expect(validateResource({ resourceType: 'Nonsense' })[0]?.expression).toBe('resourceType');
    expect(
      validateResource({
        resourceType: 'Claim',
        status: 'active',
        type: { text: 'x' },
        use: 'claim',
        patient: { reference: 'Patient/1' },
        created: '2024-01-01',
        provider: { reference: 'Organization/1' },
        priority: { text: 'normal' },
        insurance: [{ sequence: 1, focal: true, coverage: { reference: 'Coverage/1' } }],
      }),
    ).toEqual([]);
    expect(validateResource({ resourceType: 'Patient', contained: [{ resourceType: 'Organization', active: 'yes' }] })[0]?.expression).toBe(
      'Patient.contained[0].active',
    );
  });

  test('a string, number or array where R4 wants an object, and an empty element, are refused (the published schema alone lets them through)', () => {
    const base = { resourceType: 'Observation', status: 'final', code: { text: 'Heart rate' } };
    const at = (r: Record<string, unknown>) => validateResource({ ...base, ...r }).map((i) => `${i.expression}: ${i.message.split(': ').pop()}`);
    expect(at({ valueQuantity: 'x' })).toEqual(['Observation.valueQuantity: must be a JSON object']);
    expect(at({ subject: 42 })).toEqual(['Observation.subject: must be a JSON object']);
    expect(at({ code: ['Heart rate'] })).toEqual(['Observation.code: must be a JSON object']);
    expect(at({ code: {} })).toEqual(['Observation.code: must not be empty (an element has a value or children)']);
    expect(at({ valueQuantity: { value: 72, unit: '/min' }, subject: { reference: 'Patient/1' } })).toEqual([]);
  });
});
