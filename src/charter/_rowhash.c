/*
 * charter._rowhash: SHA-256 of many short byte strings, and Merkle roots, in C.
 *
 * The per-row and per-node loops of charter/lake/rowhash.py and charter/ledger/merkle.py,
 * which define what is hashed; this file only makes it fast. Each function reads Python
 * buffers (an Arrow array's offsets and data buffers, or 32-byte digests laid end to end)
 * and releases the GIL while OpenSSL's libcrypto hashes, as hashlib does.
 *
 *   hash_slices(offsets, data, wide, start, count) -> bytes (32 * count)
 *   merkle_root(leaves) -> bytes (32)
 *   merkle_level(nodes, leaf) -> bytes
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST 32

static const unsigned char LEAF_PREFIX = 0x00, NODE_PREFIX = 0x01;

typedef struct {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
} hasher;

/* Fetched once per call: passing EVP_sha256() to every init makes OpenSSL 3 look it up each time. */
static int hasher_open(hasher *h) {
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    return h->md && h->ctx ? 0 : -1;
}

static void hasher_close(hasher *h) {
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
}

/* SHA-256 of a || b (either may be empty) into out. */
static int digest2(hasher *h, const void *a, size_t na, const void *b, size_t nb, unsigned char *out) {
    return EVP_DigestInit_ex(h->ctx, h->md, NULL) == 1 && (na == 0 || EVP_DigestUpdate(h->ctx, a, na) == 1) &&
                   (nb == 0 || EVP_DigestUpdate(h->ctx, b, nb) == 1) && EVP_DigestFinal_ex(h->ctx, out, NULL) == 1
               ? 0
               : -1;
}

static long long read_offset(const char *base, Py_ssize_t i, int wide) {
    if (wide) {
        int64_t v;
        memcpy(&v, base + i * 8, 8);
        return (long long)v;
    }
    int32_t v;
    memcpy(&v, base + i * 4, 4);
    return (long long)v;
}

/*
 * hash_slices(offsets, data, wide, start, count) -> bytes
 *
 * The SHA-256 of data[offsets[i]:offsets[i + 1]] for i in start..start+count-1, laid end to
 * end (32 bytes each). offsets holds int32 values, or int64 when wide is true: an Arrow
 * binary array's offsets buffer, with start its array offset. Every offset is checked to
 * lie inside data and not to decrease.
 */
static PyObject *hash_slices(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer offsets, data;
    int wide;
    Py_ssize_t start, count;
    if (!PyArg_ParseTuple(args, "y*y*pnn", &offsets, &data, &wide, &start, &count)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t width = wide ? 8 : 4;
    if (start < 0 || count < 0 || start > PY_SSIZE_T_MAX / width - 1 - count ||
        offsets.len < (start + count + 1) * width || count > PY_SSIZE_T_MAX / DIGEST) {
        PyErr_Format(PyExc_ValueError, "offsets buffer of %zd bytes does not hold %zd + 1 offsets from %zd", offsets.len,
                     count, start);
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, count * DIGEST);
    if (!result) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const char *base = offsets.buf;
    const unsigned char *bytes = data.buf;
    long long limit = (long long)data.len;
    Py_ssize_t bad = -1;
    int failure = 0; /* 1: out of memory, 2: digest error */
    Py_BEGIN_ALLOW_THREADS
    hasher h = {NULL, NULL};
    if (hasher_open(&h) < 0) {
        failure = 1;
    } else {
        long long lo = read_offset(base, start, wide);
        for (Py_ssize_t i = 0; i < count; i++) {
            long long hi = read_offset(base, start + i + 1, wide);
            if (lo < 0 || hi < lo || hi > limit) {
                bad = i;
                break;
            }
            if (digest2(&h, bytes + lo, (size_t)(hi - lo), NULL, 0, out + i * DIGEST) < 0) {
                failure = 2;
                break;
            }
            lo = hi;
        }
    }
    hasher_close(&h);
    Py_END_ALLOW_THREADS
    if (failure || bad >= 0) {
        Py_CLEAR(result);
        if (failure == 1) PyErr_NoMemory();
        else if (failure == 2) PyErr_SetString(PyExc_RuntimeError, "SHA-256 failed in OpenSSL");
        else PyErr_Format(PyExc_ValueError, "offsets of row %zd are decreasing or outside the data buffer", bad);
    }
done:
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    return result;
}

/* Leaf hashes of n digests at in (SHA-256(0x00 || leaf)) into out; in and out may not overlap. */
static int hash_leaves(hasher *h, const unsigned char *in, Py_ssize_t n, unsigned char *out) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (digest2(h, &LEAF_PREFIX, 1, in + i * DIGEST, DIGEST, out + i * DIGEST) < 0) return -1;
    return 0;
}

/*
 * One level up from m nodes at work, in place: pairs become SHA-256(0x01 || left || right),
 * an odd last node is promoted unchanged. Returns the new count, or -1 on a digest error.
 */
static Py_ssize_t hash_level(hasher *h, unsigned char *work, Py_ssize_t m) {
    unsigned char pair[2 * DIGEST];
    for (Py_ssize_t i = 0; i < m / 2; i++) {
        memcpy(pair, work + 2 * i * DIGEST, 2 * DIGEST); /* read both before node i is overwritten */
        if (digest2(h, &NODE_PREFIX, 1, pair, 2 * DIGEST, work + i * DIGEST) < 0) return -1;
    }
    if (m % 2) memmove(work + (m / 2) * DIGEST, work + (m - 1) * DIGEST, DIGEST);
    return (m + 1) / 2;
}

static int digest_buffer(Py_buffer *view, const char *what) {
    if (view->len % DIGEST) {
        PyErr_Format(PyExc_ValueError, "%s buffer is %zd bytes long, not a multiple of 32", what, view->len);
        return -1;
    }
    return 0;
}

/*
 * merkle_root(leaves) -> bytes
 *
 * The root over n = len(leaves) / 32 leaves (charter/ledger/merkle.py): leaf nodes are
 * SHA-256(0x00 || leaf), inner nodes SHA-256(0x01 || left || right), an odd last node is
 * promoted; the root of no leaves is SHA-256 of nothing.
 */
static PyObject *merkle_root(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer leaves;
    if (!PyArg_ParseTuple(args, "y*", &leaves)) return NULL;
    if (digest_buffer(&leaves, "leaves") < 0) {
        PyBuffer_Release(&leaves);
        return NULL;
    }
    Py_ssize_t n = leaves.len / DIGEST;
    unsigned char root[DIGEST];
    unsigned char *work = malloc(n ? (size_t)n * DIGEST : 1);
    int failure = work ? 0 : 1;
    Py_BEGIN_ALLOW_THREADS
    hasher h = {NULL, NULL};
    if (failure || hasher_open(&h) < 0) {
        failure = 1;
    } else if (n == 0) {
        if (digest2(&h, NULL, 0, NULL, 0, root) < 0) failure = 2;
    } else if (hash_leaves(&h, leaves.buf, n, work) < 0) {
        failure = 2;
    } else {
        Py_ssize_t m = n;
        while (m > 1 && (m = hash_level(&h, work, m)) > 0) {
        }
        if (m < 0) failure = 2;
        else memcpy(root, work, DIGEST);
    }
    hasher_close(&h);
    Py_END_ALLOW_THREADS
    free(work);
    PyBuffer_Release(&leaves);
    if (failure == 1) return PyErr_NoMemory();
    if (failure == 2) {
        PyErr_SetString(PyExc_RuntimeError, "SHA-256 failed in OpenSSL");
        return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)root, DIGEST);
}

/*
 * merkle_level(nodes, leaf) -> bytes
 *
 * One level of the same tree: with leaf true, the leaf node of every 32-byte leaf; else the
 * level above the given nodes (pairs hashed, an odd last node promoted). For proofs.
 */
static PyObject *merkle_level(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer nodes;
    int leaf;
    if (!PyArg_ParseTuple(args, "y*p", &nodes, &leaf)) return NULL;
    if (digest_buffer(&nodes, "nodes") < 0) {
        PyBuffer_Release(&nodes);
        return NULL;
    }
    Py_ssize_t n = nodes.len / DIGEST, m = leaf ? n : (n + 1) / 2;
    PyObject *result = PyBytes_FromStringAndSize(NULL, m * DIGEST);
    if (!result) {
        PyBuffer_Release(&nodes);
        return NULL;
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    int failure = 0;
    Py_BEGIN_ALLOW_THREADS
    hasher h = {NULL, NULL};
    if (hasher_open(&h) < 0) {
        failure = 1;
    } else if (leaf) {
        failure = hash_leaves(&h, nodes.buf, n, out) < 0 ? 2 : 0;
    } else {
        const unsigned char *in = nodes.buf;
        for (Py_ssize_t i = 0; i < n / 2 && !failure; i++)
            failure = digest2(&h, &NODE_PREFIX, 1, in + 2 * i * DIGEST, 2 * DIGEST, out + i * DIGEST) < 0 ? 2 : 0;
        if (!failure && n % 2) memcpy(out + (n / 2) * DIGEST, in + (n - 1) * DIGEST, DIGEST);
    }
    hasher_close(&h);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&nodes);
    if (failure) {
        Py_DECREF(result);
        if (failure == 1) return PyErr_NoMemory();
        PyErr_SetString(PyExc_RuntimeError, "SHA-256 failed in OpenSSL");
        return NULL;
    }
    return result;
}

static PyMethodDef methods[] = {
    {"hash_slices", hash_slices, METH_VARARGS, "SHA-256 of each slice of a buffer given Arrow offsets (see the source)."},
    {"merkle_root", merkle_root, METH_VARARGS, "Merkle root of 32-byte leaves laid end to end (see the source)."},
    {"merkle_level", merkle_level, METH_VARARGS, "One level of the Merkle tree (see the source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rowhash", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__rowhash(void) { return PyModule_Create(&module); }
