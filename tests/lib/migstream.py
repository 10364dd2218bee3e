# SPDX-License-Identifier: GPL-2.0-or-later
"""Decode a saved migration stream with the base tree's
scripts/analyze-migration.py, and say where in the stream each section,
subsection and field lies, so that a test can cut or corrupt exactly one.

    s = migstream.section(stream, "tpm-crb").subsections["tpm-crb/chunk"]
    s.fields["rsp_offset"].start, .end, .value (bytes as saved)
"""

import os
import tempfile

from builds import BASE_SRC

ANALYZER = os.path.join(BASE_SRC, "scripts", "analyze-migration.py")


def _load_analyzer():
    """The script's classes.  It parses its command line at the top level,
    so only the source up to that point is run."""
    with open(ANALYZER) as f:
        source = f.read()
    cut = source.index("\nparser = argparse.ArgumentParser()")
    ns = {"__name__": "analyze_migration"}
    exec(compile(source[:cut], ANALYZER, "exec"), ns)
    return ns


def _record_offsets(cls):
    """Make cls.read() also note where in the file it started and ended
    (a section or subsection starts with its first field)."""
    read = cls.read

    def recording_read(self):
        self.start = self.file.tell()
        result = read(self)
        self.end = self.file.tell()
        return result
    cls.read = recording_read


def _record_version(cls):
    init = cls.__init__

    def recording_init(self, file, version_id, *args):
        init(self, file, version_id, *args)
        self.version = version_id
    cls.__init__ = recording_init


# the classes are this module's own copy: changing them changes nothing else
_an = _load_analyzer()
for _cls in set(_an["vmsd_field_readers"].values()):
    if "read" in _cls.__dict__:
        _record_offsets(_cls)
_record_version(_an["VMSDSection"])


class Part:
    """A section or subsection: its name and version, where its header
    and its fields start (header, start), where it ends (end, before the
    footer of a section), its fields and its subsections by name."""

    def __init__(self, stream, name, section, header_size):
        self.name, self.version = name, section.version
        self.start, self.end = section.start, section.end
        self.header = self.start - header_size
        self.fields, self.subsections = {}, {}
        for key, value in section.data.items():
            if isinstance(value, _an["VMSDSection"]):
                # QEMU_VM_SUBSECTION, name, version
                self.subsections[key] = Part(stream, key, value,
                                             1 + 1 + len(key) + 4)
            else:
                self.fields[key] = Field(stream, value)

    def bytes(self, stream):
        """The section or subsection in stream, header included."""
        return stream[self.header:self.end]


class Field:
    def __init__(self, stream, value):
        if isinstance(value, list):     # an array: where it starts and ends
            self.items = [Field(stream, v) for v in value]
            self.start, self.end = self.items[0].start, self.items[-1].end
        else:
            self.start, self.end = value.start, value.end
            if isinstance(value.data, dict):        # a struct
                self.items = {k: Field(stream, v)
                              for k, v in value.data.items()}
        self.value = stream[self.start:self.end]


def sections(stream):
    """The device sections of stream (bytes), by (name, instance id)."""
    with tempfile.NamedTemporaryFile(suffix=".stream") as f:
        f.write(stream)
        f.flush()
        dump = _an["MigrationDump"](f.name)
        dump.read()
    # QEMU_VM_SECTION_FULL, section id, name, instance id, version
    return {s.section_key: Part(stream, s.section_key[0], s,
                                1 + 4 + 1 + len(s.section_key[0]) + 8)
            for s in dump.sections.values()
            if isinstance(s, _an["VMSDSection"])}


def section(stream, name, instance=0):
    parts = sections(stream)
    assert (name, instance) in parts, \
        f"no section {name} ({instance}) in the stream: {sorted(parts)}"
    return parts[(name, instance)]
