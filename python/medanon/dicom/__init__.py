"""DICOM de-identification: the PS3.15 Annex E header profile, keyed pseudonyms,
burned-in text masking, and the audit. Needs the ``dicom`` extra."""
