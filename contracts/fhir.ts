/** Minimal FHIR R4 shapes shared by server/ and client/ (resources are stored and returned as JSON). */
export interface FhirMeta {
  versionId?: string;
  lastUpdated?: string;
  profile?: string[];
  tag?: { system?: string; code?: string; display?: string }[];
  security?: { system?: string; code?: string; display?: string }[];
}

export interface FhirResource {
  resourceType: string;
  id?: string;
  meta?: FhirMeta;
  [element: string]: unknown;
}

export interface FhirBundleEntry<R extends FhirResource = FhirResource> {
  fullUrl?: string;
  resource?: R;
  search?: { mode?: 'match' | 'include' | 'outcome'; score?: number };
  request?: { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; ifMatch?: string; ifNoneExist?: string };
  response?: { status: string; location?: string; etag?: string; lastModified?: string; outcome?: FhirResource };
}

export interface FhirBundle<R extends FhirResource = FhirResource> extends FhirResource {
  resourceType: 'Bundle';
  type: 'document' | 'message' | 'transaction' | 'transaction-response' | 'batch' | 'batch-response' | 'history' | 'searchset' | 'collection';
  total?: number;
  link?: { relation: string; url: string }[];
  entry?: FhirBundleEntry<R>[];
}

/** VN Core identifiers. */
export const VN_CORE = 'http://fhir.ehealth.gov.vn/core';
export const CITIZEN_ID_SYSTEM = 'http://fhir.ehealth.gov.vn/core/sid/citizen_id';
export const HEALTH_INSURANCE_SYSTEM = 'http://fhir.ehealth.gov.vn/core/sid/bhyt';
