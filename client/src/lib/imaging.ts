/** Imaging endpoints used by several screens (upload with progress, study lookup). */
import type { ImagingStudyView } from '../../../contracts/imaging-api';
import type { ApiClient, UploadProgress } from '../api/client';

export const IMAGING_UPLOAD_PATH = '/api/imaging/studies';
export const ACCEPTED_XRAY_TYPES = '.dcm,.dicom,image/png,image/jpeg,application/dicom';

export function uploadStudy(
  api: ApiClient,
  file: File,
  patientId: string,
  onProgress: (p: UploadProgress) => void,
  consultId?: string,
  signal?: AbortSignal,
): Promise<ImagingStudyView> {
  const form = new FormData();
  form.append('patientId', patientId);
  if (consultId) form.append('consultId', consultId);
  form.append('file', file, file.name);
  return api.upload<ImagingStudyView>(IMAGING_UPLOAD_PATH, form, onProgress, signal);
}

export function studyPath(id: string): string {
  return `/api/imaging/studies/${encodeURIComponent(id)}`;
}
