/*
 * charter._chainscan: the fast pass of ledger verification for SQLite, in C.
 *
 * It does exactly what the fast path in charter/ledger/verify.py does, without
 * creating Python objects per entry: in one read transaction it reads the head
 * and the checkpoints, then walks ledger_entries in seq order checking that the
 * sequence has no gap, that each entry links to the one before, and that each
 * stored hash is the SHA-256 of the entry's canonical text (charter/ledger/encoding.py).
 * It stops at the first entry that fails; the Python slow path then says what is wrong.
 *
 * It links the same shared libsqlite3 as Python's sqlite3 module (one SQLite in the
 * process, so POSIX locks are tracked once) and OpenSSL's libcrypto, as hashlib does.
 *
 * The caller (charter/ledger/native.py) reads the head and checkpoints in its own
 * snapshot, splits 1..head into ranges and joins the ranges' results.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define HASH_HEX 64
#define SEP '\x1f'
static const char VERSION_TAG[] = "charter.ledger.v1";

typedef struct {
    char *data;
    size_t len, cap;
} buffer;

static int buffer_put(buffer *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return -1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

/* Decimal text of a sequence number (>= 0 in a valid ledger; a negative one fails the gap check first). */
static int decimal(long long value, char *out) {
    char reversed[24];
    int n = 0;
    unsigned long long v = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    do {
        reversed[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    int len = 0;
    if (value < 0) out[len++] = '-';
    while (n) out[len++] = reversed[--n];
    return len;
}

static int cmp_i64(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static void to_hex(const unsigned char *digest, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 15];
    }
}

typedef struct {
    long long seq;
    char hash[HASH_HEX];
} seq_hash;

typedef struct {
    /* rare items found during the scan, kept in C while the GIL is released */
    seq_hash *found;
    size_t n_found, cap_found;
    buffer payloads; /* checkpoint payloads, each followed by a NUL */
    size_t n_payloads;
} rare_items;

static int remember_hash(rare_items *r, long long seq, const char *hash) {
    if (r->n_found == r->cap_found) {
        size_t cap = r->cap_found ? 2 * r->cap_found : 16;
        seq_hash *grown = realloc(r->found, cap * sizeof(seq_hash));
        if (!grown) return -1;
        r->found = grown;
        r->cap_found = cap;
    }
    r->found[r->n_found].seq = seq;
    memcpy(r->found[r->n_found].hash, hash, HASH_HEX);
    r->n_found++;
    return 0;
}

/*
 * scan_range(path, lo, hi, wanted, checkpoint_action) ->
 *     (clean, count, first_prev, last_seq, last_hash, hash_at, recorded)
 *
 * Checks entries lo..hi (by seq) in one read transaction: no gap (the first is lo),
 * each links to the one before (the first one's link is returned as first_prev for
 * the caller to join ranges), each hash matches its canonical text. Stops at the first
 * failure (clean is False). hash_at maps the wanted seqs met to their hashes; recorded
 * lists the payloads of entries whose action is checkpoint_action. The GIL is released
 * while SQLite and OpenSSL work, so ranges run in parallel on threads.
 */
static PyObject *scan_range(PyObject *Py_UNUSED(self), PyObject *args) {
    const char *path, *checkpoint_action;
    long long lo, hi;
    PyObject *wanted_obj;
    if (!PyArg_ParseTuple(args, "sLLOs", &path, &lo, &hi, &wanted_obj, &checkpoint_action)) return NULL;

    PyObject *wanted_seq = PySequence_Fast(wanted_obj, "wanted must be a sequence of ints");
    if (!wanted_seq) return NULL;
    Py_ssize_t n_wanted = PySequence_Fast_GET_SIZE(wanted_seq);
    long long *wanted = malloc(sizeof(long long) * (n_wanted ? n_wanted : 1));
    if (!wanted) { Py_DECREF(wanted_seq); return PyErr_NoMemory(); }
    for (Py_ssize_t i = 0; i < n_wanted; i++) wanted[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(wanted_seq, i));
    Py_DECREF(wanted_seq);
    if (PyErr_Occurred()) { free(wanted); return NULL; }
    qsort(wanted, n_wanted, sizeof(long long), cmp_i64);

    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    buffer text = {0};
    rare_items rare = {0};
    int clean = 1, failure = 0; /* failure: 1 sqlite error, 2 out of memory, 3 digest error */
    const char *failed_step = "";
    long long expected = lo, count = 0, last_seq = lo - 1;
    char last_hash[HASH_HEX], first_prev[HASH_HEX];
    memset(first_prev, '?', HASH_HEX); /* never a valid hash: a range whose first row fails cannot join */
    memset(last_hash, '0', HASH_HEX);
    int have_first = 0;
    Py_ssize_t next_wanted = 0;
    size_t tag_len = strlen(VERSION_TAG), action_len = strlen(checkpoint_action);
    char error_message[512] = "";

    if (!ctx) { free(wanted); return PyErr_NoMemory(); }
    Py_BEGIN_ALLOW_THREADS
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        failure = 1; failed_step = "opening the database";
    }
    if (!failure) {
        sqlite3_busy_timeout(db, 60000);
        if (sqlite3_prepare_v2(db,
                               "SELECT seq, ts, actor, action, subject, payload, prev_hash, hash "
                               "FROM ledger_entries WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
                               -1, &stmt, NULL) != SQLITE_OK) {
            failure = 1; failed_step = "reading ledger entries";
        }
    }
    if (!failure) {
        sqlite3_bind_int64(stmt, 1, lo);
        sqlite3_bind_int64(stmt, 2, hi);
        /* Fetched once: passing EVP_sha256() to every init makes OpenSSL 3 look it up each time. */
        EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (!sha256) failure = 3;
        unsigned char digest[32];
        char hex[HASH_HEX];
        int rc = SQLITE_DONE;
        while (!failure && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            long long seq = sqlite3_column_int64(stmt, 0);
            const unsigned char *fields[7];
            int lengths[7];
            for (int c = 0; c < 7; c++) {
                fields[c] = sqlite3_column_text(stmt, c + 1);
                lengths[c] = sqlite3_column_bytes(stmt, c + 1);
            }
            const char *prev = (const char *)fields[5], *stored = (const char *)fields[6];
            int ok = seq == expected && sqlite3_column_type(stmt, 0) == SQLITE_INTEGER;
            for (int c = 0; c < 7 && ok; c++) ok = fields[c] != NULL;
            ok = ok && lengths[5] == HASH_HEX && lengths[6] == HASH_HEX;
            if (ok && !have_first) {
                memcpy(first_prev, prev, HASH_HEX);
                have_first = 1;
            } else if (ok) {
                ok = memcmp(prev, last_hash, HASH_HEX) == 0;
            }
            if (ok) {
                char number[24], sep = SEP;
                int number_len = decimal(seq, number);
                text.len = 0;
                int oom = buffer_put(&text, VERSION_TAG, tag_len) || buffer_put(&text, &sep, 1) ||
                          buffer_put(&text, number, number_len);
                for (int c = 0; c < 6 && !oom; c++) oom = buffer_put(&text, &sep, 1) || buffer_put(&text, fields[c], lengths[c]);
                if (oom) { failure = 2; break; }
                if (EVP_DigestInit_ex(ctx, sha256, NULL) != 1 || EVP_DigestUpdate(ctx, text.data, text.len) != 1 ||
                    EVP_DigestFinal_ex(ctx, digest, NULL) != 1) {
                    failure = 3; break;
                }
                to_hex(digest, hex);
                ok = memcmp(hex, stored, HASH_HEX) == 0;
            }
            count++;
            if (!ok) { clean = 0; break; }
            while (next_wanted < n_wanted && wanted[next_wanted] < seq) next_wanted++;
            if (next_wanted < n_wanted && wanted[next_wanted] == seq && remember_hash(&rare, seq, stored) < 0) {
                failure = 2; break;
            }
            if (lengths[2] == (int)action_len && memcmp(fields[2], checkpoint_action, action_len) == 0) {
                char nul = 0;
                if (buffer_put(&rare.payloads, fields[4], lengths[4]) || buffer_put(&rare.payloads, &nul, 1)) {
                    failure = 2; break;
                }
                rare.n_payloads++;
            }
            memcpy(last_hash, stored, HASH_HEX);
            last_seq = seq;
            expected = seq + 1;
        }
        if (!failure && clean && rc != SQLITE_DONE) { failure = 1; failed_step = "reading ledger entries"; }
        EVP_MD_free(sha256);
    }
    if (failure == 1 && db) snprintf(error_message, sizeof error_message, "%s (%s)", sqlite3_errmsg(db), failed_step);
    else if (failure == 1) snprintf(error_message, sizeof error_message, "out of memory (%s)", failed_step);
    if (stmt) sqlite3_finalize(stmt);
    if (db) sqlite3_close(db);
    Py_END_ALLOW_THREADS

    PyObject *result = NULL, *hash_at = NULL, *recorded = NULL;
    if (failure == 1) {
        PyObject *module = PyImport_ImportModule("sqlite3");
        PyObject *cls = module ? PyObject_GetAttrString(module, "OperationalError") : NULL;
        if (cls) PyErr_SetString(cls, error_message);
        Py_XDECREF(cls);
        Py_XDECREF(module);
        goto done;
    }
    if (failure == 2) { PyErr_NoMemory(); goto done; }
    if (failure == 3) { PyErr_SetString(PyExc_RuntimeError, "SHA-256 failed in OpenSSL"); goto done; }
    hash_at = PyDict_New();
    recorded = PyList_New(0);
    if (!hash_at || !recorded) goto done;
    for (size_t i = 0; i < rare.n_found; i++) {
        PyObject *key = PyLong_FromLongLong(rare.found[i].seq);
        PyObject *value = PyUnicode_FromStringAndSize(rare.found[i].hash, HASH_HEX);
        int bad = !key || !value || PyDict_SetItem(hash_at, key, value) < 0;
        Py_XDECREF(key);
        Py_XDECREF(value);
        if (bad) goto done;
    }
    for (size_t i = 0, offset = 0; i < rare.n_payloads; i++) {
        const char *item = rare.payloads.data + offset;
        size_t n = strlen(item);
        PyObject *payload = PyUnicode_FromStringAndSize(item, (Py_ssize_t)n);
        if (!payload || PyList_Append(recorded, payload) < 0) { Py_XDECREF(payload); goto done; }
        Py_DECREF(payload);
        offset += n + 1;
    }
    result = Py_BuildValue("(OLs#Ls#OO)", clean ? Py_True : Py_False, count, first_prev, (Py_ssize_t)HASH_HEX,
                           last_seq, last_hash, (Py_ssize_t)HASH_HEX, hash_at, recorded);
done:
    Py_XDECREF(hash_at);
    Py_XDECREF(recorded);
    EVP_MD_CTX_free(ctx);
    free(text.data);
    free(rare.found);
    free(rare.payloads.data);
    free(wanted);
    return result;
}

static PyMethodDef methods[] = {
    {"scan_range", scan_range, METH_VARARGS, "Check ledger entries lo..hi of a SQLite database (see the source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_chainscan", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__chainscan(void) { return PyModule_Create(&module); }
