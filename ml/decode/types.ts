import type { ImageFormat } from './sniff';

/** DICOM attributes carried with a decoded DICOM image. */
export interface DicomImageInfo {
  transferSyntaxUid: string;
  photometric: string;
  bitsAllocated: number;
  bitsStored: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  windowCenter?: number;
  windowWidth?: number;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  modality?: string;
  bodyPart?: string;
  viewPosition?: string;
  patientId?: string;
}

export interface DecodedImage {
  width: number;
  height: number;
  /**
   * Grayscale, row-major, in [0,1], higher = brighter (MONOCHROME2 sense), after modality LUT
   * (rescale slope/intercept), VOI windowing (window centre/width from the file, else min–max of
   * the stored values) and MONOCHROME1 / Presentation LUT INVERSE inversion.
   */
  pixels: Float32Array;
  format: ImageFormat;
  dicom?: DicomImageInfo;
}
