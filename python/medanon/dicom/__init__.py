"""DICOM de-identification: the PS3.15 Annex E header profile, keyed pseudonyms,
burned-in text masking, and the audit. Needs the ``dicom`` extra."""
from medanon.dicom.pixels import Box, PixelDataError, PixelResult, clean_pixels, detect_text  # noqa: F401
