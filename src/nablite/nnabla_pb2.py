"""NNabla's protobuf messages, built at import time from ``nnabla.proto``.

A small proto3 runtime, so reading and writing NNabla's ``.protobuf`` and
``.nntxt`` files needs neither ``protoc`` nor the ``protobuf`` package. It
covers what those files use: scalar, repeated (packed numbers), message and
map fields, the binary wire format and the text format. The classes follow
the familiar protobuf API (``msg.parameter.add()``, ``msg.shape.dim.extend``,
``SerializeToString``, ``ParseFromString``, ``HasField``, ``CopyFrom``)::

    from nablite import nnabla_pb2
    proto = nnabla_pb2.NNablaProtoBuf()
    p = proto.parameter.add()
    p.variable_name = "fc/W"
    p.shape.dim.extend([3, 4])

Serialization writes fields in number order and omits proto3 defaults, as
protobuf does, so files match NNabla's byte for byte (map order aside).
"""
import os
import re
import struct

import numpy as np

_DEFAULTS = {"string": "", "bytes": b"", "bool": False, "float": 0.0, "double": 0.0,
             "int32": 0, "int64": 0, "uint32": 0, "uint64": 0}
_VARINT = {"bool", "int32", "int64", "uint32", "uint64"}


class _Field:
    __slots__ = ("name", "number", "type", "repeated", "key_type", "value_type")

    def __init__(self, name, number, type_, repeated=False, key_type=None, value_type=None):
        self.name, self.number, self.type = name, number, type_
        self.repeated, self.key_type, self.value_type = repeated, key_type, value_type

    @property
    def is_map(self):
        return self.key_type is not None

    @property
    def is_message(self):
        return self.type not in _DEFAULTS


# -- containers that mark their owner present when changed ---------------------
class RepeatedScalar(list):
    __slots__ = ("_touch",)

    def __init__(self, touch, items=()):
        super().__init__(items)
        self._touch = touch

    def append(self, v):
        super().append(v)
        self._touch()

    def extend(self, vs):
        super().extend(vs)
        self._touch()

    def __setitem__(self, i, v):
        super().__setitem__(i, v)
        self._touch()


class RepeatedMessage(list):
    __slots__ = ("_touch", "_cls")

    def __init__(self, touch, cls):
        super().__init__()
        self._touch, self._cls = touch, cls

    def add(self, **kwargs):
        m = self._cls(**kwargs)
        super().append(m)
        self._touch()
        return m

    def append(self, m):
        self.add().CopyFrom(m)

    def extend(self, ms):
        for m in ms:
            self.append(m)
        self._touch()


class MessageMap(dict):
    """map<key, Message>: reading a missing key creates it (as in protobuf)."""

    def __init__(self, touch, cls):
        super().__init__()
        self._touch, self._cls = touch, cls

    def __missing__(self, key):
        m = self[key] = self._cls()
        self._touch()
        return m

    def get_or_create(self, key):
        return self[key]


class ScalarMap(dict):
    def __init__(self, touch):
        super().__init__()
        self._touch = touch

    def __setitem__(self, key, v):
        super().__setitem__(key, v)
        self._touch()


class Message:
    """Base of the generated classes; ``_fields`` maps names to field specs."""

    _fields = {}
    _by_number = {}

    def __init__(self, **kwargs):
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_present", set())
        object.__setattr__(self, "_parent", None)
        for k, v in kwargs.items():
            if isinstance(getattr(self, k), (list, dict, Message)):
                container = getattr(self, k)
                container.CopyFrom(v) if isinstance(container, Message) else container.extend(v)
            else:
                setattr(self, k, v)

    def _touch(self, name=None):
        if name is not None:
            self._present.add(name)
        parent = self._parent
        if parent is not None:
            parent[0]._touch(parent[1])

    def __getattr__(self, name):
        f = type(self)._fields.get(name)
        if f is None:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        values = self._values
        if f.is_map:
            touch = lambda: self._touch(name)  # noqa: E731
            v = (MessageMap(touch, _CLASSES[f.value_type]) if f.value_type not in _DEFAULTS
                 else ScalarMap(touch))
        elif f.repeated:
            touch = lambda: self._touch(name)  # noqa: E731
            v = RepeatedMessage(touch, _CLASSES[f.type]) if f.is_message else RepeatedScalar(touch)
        elif f.is_message:
            v = _CLASSES[f.type]()
            object.__setattr__(v, "_parent", (self, name))
        else:
            return _DEFAULTS[f.type]
        values[name] = v
        object.__setattr__(self, name, v)
        return v

    def __setattr__(self, name, value):
        f = type(self)._fields.get(name)
        if f is None or f.repeated or f.is_message:
            raise AttributeError(f"{type(self).__name__}.{name}: assign only scalar fields "
                                 "(use .add(), .extend() or .CopyFrom() for the others)")
        object.__setattr__(self, name, _coerce(f.type, value))
        self._values[name] = getattr(self, name)
        self._touch(name)

    def HasField(self, name):
        return name in self._present

    def Clear(self):
        for name in list(self._values):
            self.__dict__.pop(name, None)
        self._values.clear()
        self._present.clear()

    def CopyFrom(self, other):
        self.Clear()
        self.MergeFromString(other.SerializeToString())
        self._touch()

    def SerializeToString(self):
        out = bytearray()
        _encode(self, out)
        return bytes(out)

    def ParseFromString(self, data):
        self.Clear()
        self.MergeFromString(data)

    def MergeFromString(self, data):
        _decode(self, memoryview(data), 0, len(data))
        return len(data)

    def __eq__(self, other):
        return type(self) is type(other) and self.SerializeToString() == other.SerializeToString()

    def __repr__(self):
        return to_text(self)


def _coerce(type_, value):
    if type_ in ("float", "double"):
        return float(value)
    if type_ == "bool":
        return bool(value)
    if type_ in _VARINT:
        return int(value)
    if type_ == "bytes":
        return bytes(value)
    return str(value)


# -- binary wire format ------------------------------------------------------
def _varint(out, v):
    if v < 0:
        v += 1 << 64
    while v > 0x7F:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _key(out, number, wire):
    _varint(out, (number << 3) | wire)


def _encode_value(out, f_type, number, v):
    if f_type in _VARINT:
        _key(out, number, 0)
        _varint(out, int(v))
    elif f_type == "float":
        _key(out, number, 5)
        out += struct.pack("<f", v)
    elif f_type == "double":
        _key(out, number, 1)
        out += struct.pack("<d", v)
    else:
        body = v.SerializeToString() if isinstance(v, Message) else (
            v.encode("utf-8") if isinstance(v, str) else bytes(v))
        _key(out, number, 2)
        _varint(out, len(body))
        out += body


def _encode(msg, out):
    values = msg._values
    for f in type(msg)._by_number:
        if f.name not in values:
            continue
        v = values[f.name]
        if f.is_map:
            for k, item in v.items():
                entry = bytearray()
                _encode_value(entry, f.key_type, 1, k)
                _encode_value(entry, f.value_type, 2, item)
                _key(out, f.number, 2)
                _varint(out, len(entry))
                out += entry
        elif f.repeated:
            if not v:
                continue
            if f.type in ("float", "double"):  # packed, proto3's default
                body = np.asarray(v, "<f4" if f.type == "float" else "<f8").tobytes()
            elif f.type in _VARINT:
                body = bytearray()
                for x in v:
                    _varint(body, int(x))
            else:
                for x in v:
                    _encode_value(out, f.type, f.number, x)
                continue
            _key(out, f.number, 2)
            _varint(out, len(body))
            out += body
        elif f.is_message:
            if f.name in msg._present:
                _encode_value(out, f.type, f.number, v)
        elif v != _DEFAULTS[f.type]:
            _encode_value(out, f.type, f.number, v)


def _read_varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _signed(type_, v):
    if type_ in ("int64", "int32") and v >= 1 << 63:
        v -= 1 << 64
    return bool(v) if type_ == "bool" else v


def _read_value(f_type, wire, buf, pos):
    """One (non-packed) value of type ``f_type``; returns (value, new pos)."""
    if wire == 0:
        v, pos = _read_varint(buf, pos)
        return _signed(f_type, v), pos
    if wire == 5:
        return struct.unpack_from("<f", buf, pos)[0], pos + 4
    if wire == 1:
        return struct.unpack_from("<d", buf, pos)[0], pos + 8
    n, pos = _read_varint(buf, pos)
    end = pos + n
    if f_type == "string":
        return str(buf[pos:end], "utf-8"), end
    if f_type == "bytes":
        return bytes(buf[pos:end]), end
    m = _CLASSES[f_type]()
    _decode(m, buf, pos, end)
    return m, end


def _skip(wire, buf, pos):
    if wire == 0:
        return _read_varint(buf, pos)[1]
    if wire == 1:
        return pos + 8
    if wire == 5:
        return pos + 4
    if wire == 2:
        n, pos = _read_varint(buf, pos)
        return pos + n
    raise ValueError(f"protobuf: unsupported wire type {wire} (corrupt data?)")


def _decode(msg, buf, pos, end):
    by_number = type(msg)._by_number
    while pos < end:
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        f = by_number.get(number)
        if f is None:
            pos = _skip(wire, buf, pos)
            continue
        if f.is_map:
            n, pos = _read_varint(buf, pos)
            entry_end, k, v = pos + n, _DEFAULTS[f.key_type], None
            while pos < entry_end:
                ekey, pos = _read_varint(buf, pos)
                if ekey >> 3 == 1:
                    k, pos = _read_value(f.key_type, ekey & 7, buf, pos)
                elif ekey >> 3 == 2:
                    v, pos = _read_value(f.value_type, ekey & 7, buf, pos)
                else:
                    pos = _skip(ekey & 7, buf, pos)
            container = getattr(msg, f.name)
            if v is None:
                v = _DEFAULTS.get(f.value_type) if f.value_type in _DEFAULTS else None
            if isinstance(container, MessageMap):
                container[k].CopyFrom(v) if v is not None else container[k]
            else:
                container[k] = v
        elif f.repeated and wire == 2 and (f.type in _VARINT or f.type in ("float", "double")):
            n, pos = _read_varint(buf, pos)
            stop = pos + n
            if f.type in ("float", "double"):
                dt = "<f4" if f.type == "float" else "<f8"
                vals = np.frombuffer(bytes(buf[pos:stop]), dt).tolist()
            else:
                vals = []
                while pos < stop:
                    v, pos = _read_varint(buf, pos)
                    vals.append(_signed(f.type, v))
            getattr(msg, f.name).extend(vals)
            pos = stop
        else:
            v, pos = _read_value(f.type, wire, buf, pos)
            if f.repeated:
                container = getattr(msg, f.name)
                list.append(container, v)
                container._touch()
            elif f.is_message:
                getattr(msg, f.name).MergeFromString(v.SerializeToString())
                msg._touch(f.name)
            else:
                setattr(msg, f.name, v)
    if pos != end:
        raise ValueError("protobuf: message ends inside a field (corrupt or truncated data)")


# -- text format ---------------------------------------------------------------
_TOKEN = re.compile(r'\s*(?:#[^\n]*\n\s*)*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|'
                    r'[-+]?[\w.+-]+|[{}<>:\[\],;])')


def _tokens(text):
    pos, out = 0, []
    while True:
        m = _TOKEN.match(text, pos)
        if m is None:
            rest = text[pos:].strip()
            if rest and not rest.startswith("#"):
                raise ValueError(f"text protobuf: cannot parse near {rest[:40]!r}")
            return out
        out.append(m.group(1))
        pos = m.end()


def _unquote(tok):
    body = tok[1:-1]
    raw = body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    return raw.encode("latin-1").decode("utf-8", "replace")


def _text_scalar(type_, tok):
    if tok[0] in "\"'":
        s = _unquote(tok)
        return s.encode("latin-1") if type_ == "bytes" else s
    low = tok.lower()
    if type_ == "bool":
        return low in ("true", "t", "1")
    if type_ in ("float", "double"):
        return float(low.rstrip("f") if "inf" not in low and "nan" not in low else
                     low.replace("infinity", "inf"))
    if type_ in _VARINT:
        return int(tok, 0)
    return tok  # an enum name, kept as a string


def merge_text(text, msg):
    """Merge protobuf text format ``text`` into ``msg``; unknown fields are skipped."""
    toks = _tokens(text)
    pos = _merge_tokens(toks, 0, msg, None)
    if pos != len(toks):
        raise ValueError(f"text protobuf: unexpected {toks[pos]!r}")
    return msg


def _merge_tokens(toks, pos, msg, closer):
    fields = msg._fields if msg is not None else {}
    while pos < len(toks) and toks[pos] != closer:
        name = toks[pos]
        pos += 1
        f = fields.get(name)
        if pos < len(toks) and toks[pos] == ":":
            pos += 1
        if toks[pos] in ("{", "<"):
            close = "}" if toks[pos] == "{" else ">"
            if f is None:
                child = None
            elif f.is_map:
                child = _MapEntry(f)
            elif f.repeated:
                child = getattr(msg, name).add()
            else:
                child = getattr(msg, name)
                msg._touch(name)
            pos = _merge_tokens(toks, pos + 1, child, close) + 1
            if isinstance(child, _MapEntry):
                child.store(getattr(msg, name))
        else:
            items = []
            if toks[pos] == "[":
                pos += 1
                while toks[pos] != "]":
                    if toks[pos] != ",":
                        items.append(toks[pos])
                    pos += 1
                pos += 1
            else:
                items.append(toks[pos])
                pos += 1
            if f is not None:
                vals = [_text_scalar(f.type, t) for t in items]
                if f.repeated:
                    getattr(msg, name).extend(vals)
                else:
                    setattr(msg, name, vals[-1])
        if pos < len(toks) and toks[pos] in (",", ";"):
            pos += 1
    return pos


class _MapEntry:
    """Collects ``key``/``value`` of one text-format map entry."""

    def __init__(self, field):
        self._f = field
        self.key = _DEFAULTS[field.key_type]
        self.value = (_CLASSES[field.value_type]() if field.value_type not in _DEFAULTS
                      else _DEFAULTS[field.value_type])
        self._fields = {"key": _Field("key", 1, field.key_type),
                        "value": _Field("value", 2, field.value_type)}

    def _touch(self, name=None):
        pass

    def store(self, container):
        if isinstance(container, MessageMap):
            container[self.key].CopyFrom(self.value)
        else:
            container[self.key] = self.value


def _text_value(type_, v):
    if type_ == "string":
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if type_ == "bytes":
        return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03o}"
                             for b in v) + '"'
    if type_ == "bool":
        return "true" if v else "false"
    if type_ == "float":
        return str(np.float32(v))
    return repr(v) if type_ == "double" else str(v)


def to_text(msg, indent=0):
    """Protobuf text format of ``msg`` (fields in number order, defaults omitted)."""
    pad, lines = " " * indent, []
    for f in type(msg)._by_number:
        if f.name not in msg._values:
            continue
        v = msg._values[f.name]
        if f.is_map:
            for k, item in v.items():
                lines.append(f"{pad}{f.name} {{")
                lines.append(f"{pad}  key: {_text_value(f.key_type, k)}")
                if isinstance(item, Message):
                    lines.append(f"{pad}  value {{\n{to_text(item, indent + 4)}{pad}  }}")
                else:
                    lines.append(f"{pad}  value: {_text_value(f.value_type, item)}")
                lines.append(f"{pad}}}")
        elif f.repeated:
            for item in v:
                if f.is_message:
                    lines.append(f"{pad}{f.name} {{\n{to_text(item, indent + 2)}{pad}}}")
                else:
                    lines.append(f"{pad}{f.name}: {_text_value(f.type, item)}")
        elif f.is_message:
            if f.name in msg._present:
                lines.append(f"{pad}{f.name} {{\n{to_text(v, indent + 2)}{pad}}}")
        elif v != _DEFAULTS[f.type]:
            lines.append(f"{pad}{f.name}: {_text_value(f.type, v)}")
    return "".join(line + "\n" for line in lines)


# -- classes from nnabla.proto -------------------------------------------------
_FIELD = re.compile(r"(repeated\s+)?(?:map\s*<\s*(\w+)\s*,\s*(\w+)\s*>|(\w+))\s+(\w+)\s*=\s*(\d+)\s*;")
_CLASSES = {}


def _build(path):
    text = re.sub(r"//[^\n]*", "", open(path, encoding="utf-8").read())
    for name, body in re.findall(r"message\s+(\w+)\s*\{([^{}]*)\}", text):
        fields = {}
        for rep, key_t, val_t, type_, fname, num in _FIELD.findall(body):
            fields[fname] = (_Field(fname, int(num), val_t, True, key_t, val_t) if key_t
                             else _Field(fname, int(num), type_, bool(rep)))
        by_number = sorted(fields.values(), key=lambda f: f.number)
        cls = type(name, (Message,), {"_fields": fields, "_by_number": by_number,
                                       "__module__": __name__,
                                       "__doc__": f"NNabla protobuf message {name}."})
        _CLASSES[name] = cls
    for cls in _CLASSES.values():  # _by_number: a list to iterate, a dict to look up
        cls._by_number = _ByNumber(cls._by_number)
    globals().update(_CLASSES)


class _ByNumber(list):
    def __init__(self, fields):
        super().__init__(fields)
        self._index = {f.number: f for f in fields}

    def get(self, number):
        return self._index.get(number)


_build(os.path.join(os.path.dirname(os.path.abspath(__file__)), "nnabla.proto"))
