/*
 * zoo.h: libzoo, refsan's demo library: reference-counted dogs, owners
 * that hold a reference on their dog, cages opened through an
 * out-parameter, and a few functions of awkward signatures for the ABI
 * tests of the trampolines.
 */
#ifndef ZOO_H
#define ZOO_H

#include <stdint.h>

struct dog;
struct owner;
struct cage;

struct dog *create_dog(const char *name);
void add_ref(void *obj);     /* dogs and owners */
void release(void *obj);     /* one reference fewer; frees at 0 */
int say_walk(struct dog *d); /* 1 if the dog is alive and walks */
int dog_refcount(const struct dog *d);
/* A new dog with D's name.  demo/zoo.spec does not name it, on purpose:
 * refsan's hint for a release of a handle it never saw created. */
struct dog *clone_dog(const struct dog *d);

/* Takes a reference on D (through add_ref, as users do). */
struct owner *create_owner(struct dog *d);
struct dog *owner_dog(struct owner *o);

/* 0 and *out set on success, -1 on failure (see zoo_set_fail). */
int open_cage(struct cage **out);
int close_cage(struct cage *c);
/* Make the next N calls to open_cage fail. */
void zoo_set_fail(int n);

/* One more reference that no spec'd function sees (tests: a double
 * release refsan reports while the library still holds the object). */
void zoo_bump(void *obj);
/* Objects allocated and not yet freed; calls that reached release(). */
long zoo_live_count(void);
long zoo_release_calls(void);

/* ABI tests. */
double zoo_mix(long a, long b, long c, long d, long e, long f, long g, long h,
               double x, double y, const char *s);
struct zoo_pair {
	long a;
	long b;
};
struct zoo_pair zoo_pair(long a, long b);
struct zoo_dpair {
	double x;
	double y;
};
struct zoo_dpair zoo_dpair(double x, double y);
struct zoo_big {
	long v[4];
};
struct zoo_big zoo_big(long a, long b, long c, long d);
long double zoo_ldouble(long double x, int n, void *unused);
double zoo_varsum(int n, ...);
/* Returns its 9th argument (arg8, passed on the stack) after a use. */
void *zoo_pick8(void *a0, void *a1, void *a2, void *a3, void *a4, void *a5,
                void *a6, void *a7, void *a8, void *a9);
/* Calls create_dog/release recursively through the PLT DEPTH times. */
long zoo_recurse(int depth);
/* Calls CB(ARG) and returns 0: a library calling back into its user. */
int zoo_call(void (*cb)(void *), void *arg);
/* Sets errno to E and returns a new dog. */
struct dog *zoo_create_errno(int e);

#endif
