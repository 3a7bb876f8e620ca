"""A minimal GGUF reader in numpy for the GPU check's peer (torch_peer.py).

Reads the header, the metadata, the tensor infos and the data section (GGUF v2/v3, little
endian), and dequantizes the formats the pinned model uses (F32, F16, Q8_0, Q4_0, Q4_1) to
float32 arrays in the tensor's row-major shape. It depends on numpy and the standard library
only: the device machine has nothing else that we may rely on.
"""

import struct
from dataclasses import dataclass

import numpy as np

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# Metadata value types (GGUF spec).
_SCALARS = {
    0: "<B",  # u8
    1: "<b",  # i8
    2: "<H",  # u16
    3: "<h",  # i16
    4: "<I",  # u32
    5: "<i",  # i32
    6: "<f",  # f32
    7: "<?",  # bool
    10: "<Q",  # u64
    11: "<q",  # i64
    12: "<d",  # f64
}
_STRING = 8
_ARRAY = 9

# ggml tensor types: name, elements per block, bytes per block.
GGML_TYPES = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    8: ("Q8_0", 32, 34),
    12: ("Q4_K", 256, 144),
    14: ("Q6_K", 256, 210),
}


class GgufError(Exception):
    """The file is not a GGUF file this reader understands."""


@dataclass
class TensorInfo:
    name: str
    # ggml order: dims[0] is the contiguous (column) dimension.
    dims: tuple
    type_id: int
    offset: int

    @property
    def type_name(self):
        return GGML_TYPES.get(self.type_id, (f"type {self.type_id}",))[0]

    @property
    def shape(self):
        """Row-major numpy shape (the ggml dims reversed)."""
        return tuple(reversed(self.dims))

    @property
    def elements(self):
        n = 1
        for d in self.dims:
            n *= d
        return n

    def nbytes(self):
        if self.type_id not in GGML_TYPES:
            raise GgufError(f"{self.name}: unsupported ggml type {self.type_id}")
        _, block, block_bytes = GGML_TYPES[self.type_id]
        if self.dims[0] % block:
            raise GgufError(f"{self.name}: row of {self.dims[0]} is not whole {block}-blocks")
        return self.elements // block * block_bytes


class _Cursor:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise GgufError(f"truncated file: need {n} bytes at offset {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        return bytes(self.take(self.unpack("<Q"))).decode("utf-8")

    def value(self, type_id):
        if type_id in _SCALARS:
            return self.unpack(_SCALARS[type_id])
        if type_id == _STRING:
            return self.string()
        if type_id == _ARRAY:
            item_type = self.unpack("<I")
            count = self.unpack("<Q")
            if item_type in _SCALARS and item_type != 7:
                dtype = np.dtype(_SCALARS[item_type])
                return np.frombuffer(self.take(count * dtype.itemsize), dtype=dtype)
            return [self.value(item_type) for _ in range(count)]
        raise GgufError(f"unknown metadata value type {type_id} at offset {self.pos}")


class GgufFile:
    """A GGUF file mapped read-only: `metadata` (dict), `tensors` (name -> TensorInfo)."""

    def __init__(self, path):
        self.path = path
        self.data = np.memmap(path, dtype=np.uint8, mode="r")
        cur = _Cursor(self.data)
        if bytes(cur.take(4)) != MAGIC:
            raise GgufError(f"{path}: not a GGUF file (bad magic)")
        self.version = cur.unpack("<I")
        if self.version not in (2, 3):
            raise GgufError(f"{path}: GGUF version {self.version} (expected 2 or 3)")
        tensor_count = cur.unpack("<Q")
        kv_count = cur.unpack("<Q")
        self.metadata = {}
        for _ in range(kv_count):
            key = cur.string()
            self.metadata[key] = cur.value(cur.unpack("<I"))
        self.tensors = {}
        for _ in range(tensor_count):
            name = cur.string()
            n_dims = cur.unpack("<I")
            dims = tuple(cur.unpack("<Q") for _ in range(n_dims))
            type_id = cur.unpack("<I")
            offset = cur.unpack("<Q")
            self.tensors[name] = TensorInfo(name, dims, type_id, offset)
        alignment = int(self.metadata.get("general.alignment", DEFAULT_ALIGNMENT))
        if alignment <= 0:
            raise GgufError(f"{path}: general.alignment {alignment}")
        self.data_start = (cur.pos + alignment - 1) // alignment * alignment
        for info in self.tensors.values():
            end = self.data_start + info.offset + info.nbytes()
            if end > len(self.data):
                raise GgufError(f"{path}: tensor {info.name} ends past the file ({end} bytes)")

    def raw(self, name):
        info = self.tensor(name)
        start = self.data_start + info.offset
        return self.data[start : start + info.nbytes()]

    def tensor(self, name):
        if name not in self.tensors:
            raise GgufError(f"{self.path}: no tensor {name}")
        return self.tensors[name]

    def dequantize(self, name):
        """The tensor as float32, in its row-major shape."""
        info = self.tensor(name)
        values = dequantize(info.type_id, self.raw(name), info.elements)
        return values.reshape(info.shape)


def _blocks(raw, block_bytes):
    return np.asarray(raw).reshape(-1, block_bytes)


def _f16(blocks, start):
    return blocks[:, start : start + 2].copy().view(np.float16).astype(np.float32)


def dequantize(type_id, raw, elements):
    """Dequantizes `raw` bytes of ggml type `type_id` to a flat float32 array."""
    if type_id == 0:
        return np.frombuffer(np.asarray(raw).tobytes(), dtype="<f4").copy()
    if type_id == 1:
        return np.frombuffer(np.asarray(raw).tobytes(), dtype="<f2").astype(np.float32)
    if type_id == 8:  # Q8_0: f16 d, 32 x i8; x = d * q
        b = _blocks(raw, 34)
        q = b[:, 2:].copy().view(np.int8).astype(np.float32)
        return (_f16(b, 0) * q).reshape(-1)
    if type_id in (2, 3):  # Q4_0: d, 16 bytes; Q4_1: d, m, 16 bytes
        b = _blocks(raw, 18 if type_id == 2 else 20)
        qs = b[:, -16:]
        # Element j < 16 is the low nibble of byte j, element j + 16 its high nibble.
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
        d = _f16(b, 0)
        if type_id == 2:
            return (d * (q - 8.0)).reshape(-1)
        return (d * q + _f16(b, 2)).reshape(-1)
    name = GGML_TYPES.get(type_id, (f"type {type_id}",))[0]
    raise GgufError(f"dequantizing {name} is not supported by this reader ({elements} elements)")


@dataclass
class LlamaHyper:
    vocab: int
    embedding: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    feed_forward: int
    context: int
    rope_base: float
    rms_eps: float


def llama_hyper(gguf):
    """The llama hyper-parameters from the metadata (the defaults our engine uses when absent)."""
    md = gguf.metadata
    if md.get("general.architecture") != "llama":
        raise GgufError(f"architecture {md.get('general.architecture')!r} is not llama")

    def need(key):
        full = f"llama.{key}"
        if full not in md:
            raise GgufError(f"missing metadata {full}")
        return int(md[full])

    embedding = need("embedding_length")
    heads = need("attention.head_count")
    return LlamaHyper(
        vocab=gguf.tensor("token_embd.weight").shape[0],
        embedding=embedding,
        layers=need("block_count"),
        heads=heads,
        kv_heads=int(md.get("llama.attention.head_count_kv", heads)),
        head_dim=embedding // heads,
        feed_forward=need("feed_forward_length"),
        context=need("context_length"),
        rope_base=float(md.get("llama.rope.freq_base", 10000.0)),
        rms_eps=float(md.get("llama.attention.layer_norm_rms_epsilon", 1e-5)),
    )
