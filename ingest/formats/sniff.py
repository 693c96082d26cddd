"""Tell a file's format from its first bytes, and its name only where the bytes cannot say."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePath

from ingest.formats.base import UnreadableFile

SUPPORTED = (".txt", ".md", ".pdf", ".docx", ".xlsx", ".csv", ".html", ".htm")
"""File name endings ingest reads (the content decides, these are what users are told)."""

# Formats users do have, that are refused with what to do instead.
UNSUPPORTED_HINTS = {
    ".doc": "a Word 97–2003 file: open it in Word or WPS and save it as .docx or PDF",
    ".wps": "a WPS document: open it in WPS and save it as .docx or PDF",
    ".xls": "an Excel 97–2003 workbook: open it in Excel or WPS and save it as .xlsx or .csv",
    ".et": "a WPS spreadsheet: save it as .xlsx or .csv",
    ".ppt": "a PowerPoint file: save it as PDF",
    ".pptx": "a PowerPoint file: save it as PDF",
    ".rtf": "a rich-text file: save it as .docx or PDF",
    ".ofd": "an OFD document: export it as PDF",
    ".png": "an image: put it in a PDF (scanned pages are read by OCR)",
    ".jpg": "an image: put it in a PDF (scanned pages are read by OCR)",
    ".jpeg": "an image: put it in a PDF (scanned pages are read by OCR)",
    ".tif": "an image: put it in a PDF (scanned pages are read by OCR)",
    ".tiff": "an image: put it in a PDF (scanned pages are read by OCR)",
    ".gif": "an image: put it in a PDF (scanned pages are read by OCR)",
    ".bmp": "an image: put it in a PDF (scanned pages are read by OCR)",
    ".zip": "an archive: unpack it and add the documents inside",
    ".rar": "an archive: unpack it and add the documents inside",
    ".7z": "an archive: unpack it and add the documents inside",
}
MAGIC = (
    (b"%PDF-", "pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".doc"),  # OLE2: .doc, .xls, .wps, .ppt
    (b"\x89PNG", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"GIF8", ".gif"), (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"), (b"BM", ".bmp"), (b"Rar!", ".rar"), (b"7z\xbc\xaf", ".7z"), (b"{\\rtf", ".rtf"),
)
OLE2_KINDS = (".doc", ".xls", ".wps", ".et", ".ppt")
# An encrypted .docx or .xlsx is an OLE2 file holding this stream (directory names are UTF-16).
ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
HTML_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)


def refuse(kind: str, seen: str) -> UnreadableFile:
    return UnreadableFile(f"unsupported file type ({seen}): {UNSUPPORTED_HINTS[kind]}")


def sniff(head: bytes, name: str) -> str:
    """'txt', 'md', 'pdf', 'docx', 'xlsx', 'csv' or 'html' for `head` (the file's first bytes;
    a zip's whole content is not needed when its directory is near the start, and is read from
    `head` only), or `UnreadableFile` naming what the file is and what to do with it."""
    suffix = PurePath(name).suffix.lower()
    for magic, kind in MAGIC:
        # A BMP's bytes 6–9 are reserved zeros; a text file may well start with "BM" (a BMI column).
        if head.startswith(magic) and (kind != ".bmp" or head[6:10] == bytes(4)):
            if kind == "pdf":
                return "pdf"
            if kind == ".doc" and ENCRYPTED in head:
                raise UnreadableFile("password-protected (encrypted) Office file: open it, remove the password, "
                                     "save it and add it again")
            if kind == ".doc" and suffix in (".docx", ".xlsx"):
                raise UnreadableFile(f"not a real {suffix} file: it is password-protected (encrypted), or an "
                                     f"Office 97–2003 file renamed; remove the password, or save it as {suffix}, "
                                     "and add it again")
            seen = suffix if suffix in OLE2_KINDS and kind == ".doc" else kind
            raise refuse(seen, "content is " + {".doc": "an Office 97–2003 or WPS file"}.get(kind, kind[1:].upper()))
    if head.startswith(b"PK\x03\x04"):
        return office_kind(head, suffix)
    if suffix in UNSUPPORTED_HINTS:
        raise refuse(suffix, suffix)
    if HTML_START.match(head[:2048]) or suffix in (".html", ".htm"):
        return "html"
    if suffix == ".csv":
        return "csv"
    if suffix in (".md", ".markdown"):
        return "md"
    if suffix in (".txt", ".text", ""):
        return "txt"
    expected = ", ".join(s for s in SUPPORTED if s != ".htm")
    raise UnreadableFile(f"unsupported file type '{suffix}' (expected {expected})")


def office_kind(head: bytes, suffix: str) -> str:
    """A zip file: .docx and .xlsx name their main part near the start of the archive."""
    names = b""
    try:
        names = "\n".join(zipfile.ZipFile(io.BytesIO(head)).namelist()).encode()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        names = head  # the directory is at the end; the local headers at the start still name parts
    if b"word/" in names:
        return "docx"
    if b"xl/" in names:
        return "xlsx"
    if suffix in (".docx", ".xlsx"):
        return suffix[1:]
    if b"ppt/" in names:
        raise refuse(".pptx", "content is a PowerPoint file")
    raise refuse(".zip", "content is a zip archive")
