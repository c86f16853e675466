/** Imaging endpoints used by several screens (resumable upload with progress, study lookup). */
import type { ImagingStudyView } from '../../../contracts/imaging-api';
import type { ApiClient, UploadProgress } from '../api/client';
import { resumableUpload, resumableUploadsAvailable } from './resumable-upload';

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
  // Resumable (tus) wherever the browser can compute the checksum; the multipart route otherwise.
  if (resumableUploadsAvailable())
    return resumableUpload<ImagingStudyView>(api, file, { purpose: 'imaging', patientId, ...(consultId ? { consultId } : {}) }, onProgress, signal);
  const form = new FormData();
  form.append('patientId', patientId);
  if (consultId) form.append('consultId', consultId);
  form.append('file', file, file.name);
  return api.upload<ImagingStudyView>(IMAGING_UPLOAD_PATH, form, onProgress, signal);
}

export function studyPath(id: string): string {
  return `/api/imaging/studies/${encodeURIComponent(id)}`;
}
