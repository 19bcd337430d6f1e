/*
 * h5_tamper FILE OP ARGS: damages an HDF5 snapshot in one precise way, for the tests of
 * bad snapshots (tests/e2e/test_snapshot_bad.sh). Serial HDF5; exit 0 when done.
 *
 *   set-attr NAME V        root attribute NAME (int64) := V
 *   del-attr NAME          removes root attribute NAME
 *   del-dataset PATH       unlinks dataset PATH
 *   set-u64 PATH I V       item I of uint64 dataset PATH := V
 *   add-u64 PATH I D       item I of uint64 dataset PATH += D (I = -1: the last item)
 *   set-u8 PATH I V        item I of uint8 dataset PATH := V
 *   sparse PATH N          PATH replaced by a chunked dataset of its type and N items, none
 *                          of them written (its chunks never allocated)
 */
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int slab(hid_t d, hid_t type, long long i, void *v, int write)
{
    hid_t fs = H5Dget_space(d), ms;
    hsize_t dims[1], start[1], count[1] = {1};
    int rc;

    H5Sget_simple_extent_dims(fs, dims, NULL);
    start[0] = i < 0 ? dims[0] - 1 : (hsize_t)i;
    ms = H5Screate_simple(1, count, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    rc = write ? H5Dwrite(d, type, ms, fs, H5P_DEFAULT, v)
               : H5Dread(d, type, ms, fs, H5P_DEFAULT, v);
    H5Sclose(ms);
    H5Sclose(fs);
    return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    hid_t f;
    int rc = 1;

    if (argc < 4) {
        fprintf(stderr, "usage: h5_tamper FILE OP ARGS (see the source)\n");
        return 2;
    }
    f = H5Fopen(argv[1], H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 1;
    if (strcmp(argv[2], "set-attr") == 0 && argc == 5) {
        int64_t v = strtoll(argv[4], NULL, 10);
        hid_t a = H5Aopen(f, argv[3], H5P_DEFAULT);
        rc = a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &v) < 0;
        H5Aclose(a);
    } else if (strcmp(argv[2], "del-attr") == 0) {
        rc = H5Adelete(f, argv[3]) < 0;
    } else if (strcmp(argv[2], "del-dataset") == 0) {
        rc = H5Ldelete(f, argv[3], H5P_DEFAULT) < 0;
    } else if ((strcmp(argv[2], "set-u64") == 0 || strcmp(argv[2], "add-u64") == 0) && argc == 6) {
        hid_t d = H5Dopen2(f, argv[3], H5P_DEFAULT);
        long long i = strtoll(argv[4], NULL, 10);
        uint64_t v = 0, x = (uint64_t)strtoll(argv[5], NULL, 10);
        rc = d < 0 || slab(d, H5T_NATIVE_UINT64, i, &v, 0) != 0;
        v = argv[2][0] == 's' ? x : v + x;
        rc = rc || slab(d, H5T_NATIVE_UINT64, i, &v, 1) != 0;
        H5Dclose(d);
    } else if (strcmp(argv[2], "set-u8") == 0 && argc == 6) {
        hid_t d = H5Dopen2(f, argv[3], H5P_DEFAULT);
        uint8_t v = (uint8_t)strtol(argv[5], NULL, 10);
        rc = d < 0 || slab(d, H5T_NATIVE_UINT8, strtoll(argv[4], NULL, 10), &v, 1) != 0;
        H5Dclose(d);
    } else if (strcmp(argv[2], "sparse") == 0 && argc == 5) {
        hid_t d = H5Dopen2(f, argv[3], H5P_DEFAULT);
        hid_t t = d >= 0 ? H5Dget_type(d) : -1, sp, pl, nd;
        hsize_t n[1] = {(hsize_t)strtoull(argv[4], NULL, 10)}, chunk[1] = {65536};
        if (d >= 0)
            H5Dclose(d);
        rc = t < 0 || H5Ldelete(f, argv[3], H5P_DEFAULT) < 0;
        if (!rc) {
            sp = H5Screate_simple(1, n, NULL);
            pl = H5Pcreate(H5P_DATASET_CREATE);
            H5Pset_chunk(pl, 1, chunk);
            nd = H5Dcreate2(f, argv[3], t, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
            rc = nd < 0;
            H5Dclose(nd);
            H5Pclose(pl);
            H5Sclose(sp);
        }
        if (t >= 0)
            H5Tclose(t);
    } else {
        fprintf(stderr, "h5_tamper: unknown operation %s\n", argv[2]);
        rc = 2;
    }
    if (H5Fclose(f) < 0 && rc == 0)
        rc = 1;
    return rc;
}
