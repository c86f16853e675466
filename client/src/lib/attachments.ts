/** Consult chat messages with a file: resumable (tus) where the browser allows it, the multipart route otherwise. */
import type { ConsultMessageView } from '../../../contracts/consult-api';
import type { ApiClient, UploadProgress } from '../api/client';
import { resumableUpload, resumableUploadsAvailable } from './resumable-upload';

export function postMessageWithFile(
  api: ApiClient,
  consultId: string,
  text: string,
  file: File,
  onProgress: (p: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<ConsultMessageView> {
  if (resumableUploadsAvailable()) return resumableUpload<ConsultMessageView>(api, file, { purpose: 'attachment', consultId, text }, onProgress, signal);
  const form = new FormData();
  form.append('text', text);
  form.append('file', file, file.name);
  return api.upload<ConsultMessageView>(`/api/consults/${encodeURIComponent(consultId)}/messages`, form, onProgress, signal);
}
