/** X-rays over the resumable-upload route (tus): the same fields, checks and answer as POST /api/imaging/studies. */
import type { ImagingStudyView } from '../../contracts/imaging-api';
import { parseInput } from '../http/validate';
import type { UploadPurpose } from '../uploads/upload-purpose';
import type { ImagingAccess } from './access';
import type { ImagingService } from './imaging-service';
import { uploadFieldsSchema } from './schemas';
import { studyView } from './views';

export function imagingUploadPurpose(imaging: ImagingService, access: ImagingAccess, maxBytes: number): UploadPurpose {
  return {
    name: 'imaging',
    maxBytes,
    authorize: async (caller, fields, ctx) => {
      const { patientId } = parseInput(uploadFieldsSchema, fields, 'metadata');
      await access.enforce(caller, patientId, 'write', ctx);
    },
    complete: async (caller, fields, file, ctx) => {
      const { patientId, consultId } = parseInput(uploadFieldsSchema, fields, 'metadata');
      const study = await imaging.upload({ caller, ctx, patientId, ...(consultId ? { consultId } : {}), file: file.bytes });
      const body: ImagingStudyView = studyView(study);
      return { status: 201, body, location: `/api/imaging/studies/${study._id}` };
    },
  };
}
