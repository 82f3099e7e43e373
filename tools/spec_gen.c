/*
 * spec_gen.c: `refsan spec gen HEADER.h...`, a starting spec from C
 * headers, so that covering a new library starts from its declarations
 * rather than from a blank file.
 *
 * It is a tokenizer over top-level declarations, not a C parser:
 * comments, preprocessor lines and bodies are skipped (every branch of an
 * #if is read), struct definitions are noted, typedefs are followed, and
 * every function declaration is classified by two signals:
 *   - its name: the last word of it (split at '_' and at camelCase, with
 *     version suffixes like _v2 or _ex dropped) says create (create, new,
 *     open, alloc, init, dup, copy), acquire (ref, retain, incref), or
 *     release (release, unref, free, destroy, close, dispose, delete,
 *     finalize, end, cleanup, ...);
 *   - its handle types: a pointer to a struct the headers never define
 *     (opaque: struct sqlite3_stmt), or a typedef'd pointer to a struct
 *     (gzFile, XML_Parser), returned, taken, or taken by address (T **out).
 * Both agreeing gives an active rule; one alone gives a commented-out
 * candidate with the reason, for the person who reviews the spec.  Each
 * rule is preceded by the declaration it came from, FILE:LINE.  Families
 * are named from the type.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
        "usage: refsan spec gen [--library PATTERN] HEADER.h...\n"
        "\n"
        "Writes a starting spec for the functions the headers declare, on\n"
        "standard output: create, acquire and release rules found by naming\n"
        "conventions and opaque pointer types, each under the declaration it\n"
        "came from, and commented-out candidates to review.  --library sets\n"
        "the library pattern (default: lib<first header's name>.so*).\n";

enum tok_type { T_IDENT, T_PUNCT, T_STRING, T_NUMBER };

struct tok {
	enum tok_type type;
	const char *p;
	unsigned len;
	unsigned line;
};

struct header {
	const char *path;
	char *text;
	size_t len;
	struct tok *toks;
	size_t ntoks, cap;
};

/* A function declaration: tokens [first, end) of header h. */
struct decl {
	struct header *h;
	size_t first, end;
};

/* typedef NAME = [struct TAG | BASE] with STARS pointer levels. */
struct tdef {
	char *name;
	char *tag;  /* struct/union tag, or NULL */
	char *base; /* another typedef, or NULL */
	unsigned stars;
};

struct gen {
	char **defined; /* struct tags with a body */
	size_t ndefined, cap_defined;
	char **tags; /* every struct tag seen */
	size_t ntags, cap_tags;
	struct tdef *tdefs;
	size_t ntdefs, cap_tdefs;
	struct decl *decls;
	size_t ndecls, cap_decls;
};

/* ---- tokens ---- */

static bool
tok_is(const struct tok *t, const char *s)
{
	return t->len == strlen(s) && memcmp(t->p, s, t->len) == 0;
}

static char *
tok_dup(const struct tok *t)
{
	char *s = xmalloc(t->len + 1);

	memcpy(s, t->p, t->len);
	s[t->len] = '\0';
	return s;
}

static bool
ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
ident_char(char c)
{
	return ident_start(c) || (c >= '0' && c <= '9');
}

static void
add_tok(struct header *h, enum tok_type type, const char *p, size_t len,
        unsigned line)
{
	if (h->ntoks == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 1024;
		h->toks = xrealloc(h->toks, h->cap * sizeof(*h->toks));
	}
	h->toks[h->ntoks].type = type;
	h->toks[h->ntoks].p = p;
	h->toks[h->ntoks].len = (unsigned)len;
	h->toks[h->ntoks].line = line;
	h->ntoks++;
}

/* Comments and preprocessor lines out, tokens in. */
static void
tokenize(struct header *h)
{
	const char *p = h->text, *end = h->text + h->len;
	unsigned line = 1;
	bool bol = true; /* only blanks since the start of the line */

	while (p < end) {
		char c = *p;

		if (c == '\n') {
			line++;
			bol = true;
			p++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
		    c == '\v') {
			p++;
			continue;
		}
		if (c == '/' && p + 1 < end && p[1] == '*') {
			for (p += 2; p < end &&
			             !(*p == '*' && p + 1 < end && p[1] == '/');
			     p++)
				if (*p == '\n')
					line++;
			p = p < end ? p + 2 : end;
			continue;
		}
		if (c == '/' && p + 1 < end && p[1] == '/') {
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		if (c == '#' && bol) {
			/* A directive, with its continuation lines. */
			while (p < end && *p != '\n') {
				if (*p == '\\' && p + 1 < end && p[1] == '\n') {
					line++;
					p++;
				} else if (*p == '/' && p + 1 < end &&
				           p[1] == '*') {
					break; /* the comment ends it */
				}
				p++;
			}
			continue;
		}
		bol = false;
		if (ident_start(c)) {
			const char *s = p;

			while (p < end && ident_char(*p))
				p++;
			add_tok(h, T_IDENT, s, (size_t)(p - s), line);
			continue;
		}
		if (c >= '0' && c <= '9') {
			const char *s = p;

			while (p < end && (ident_char(*p) || *p == '.'))
				p++;
			add_tok(h, T_NUMBER, s, (size_t)(p - s), line);
			continue;
		}
		if (c == '"' || c == '\'') {
			const char *s = p++;

			while (p < end && *p != c && *p != '\n') {
				if (*p == '\\' && p + 1 < end)
					p++;
				p++;
			}
			if (p < end && *p == c)
				p++;
			add_tok(h, T_STRING, s, (size_t)(p - s), line);
			continue;
		}
		if (c == '.' && p + 2 < end && p[1] == '.' && p[2] == '.') {
			add_tok(h, T_PUNCT, p, 3, line);
			p += 3;
			continue;
		}
		add_tok(h, T_PUNCT, p, 1, line);
		p++;
	}
}

/* ---- what the headers declare ---- */

static void
push_str(char ***v, size_t *n, size_t *cap, char *s)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if (strcmp((*v)[i], s) == 0) {
			free(s);
			return;
		}
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = s;
}

static bool
in_list(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static bool
is_tag_keyword(const struct tok *t)
{
	return t->type == T_IDENT &&
	       (tok_is(t, "struct") || tok_is(t, "union") || tok_is(t, "enum"));
}

/* Index of the '}' matching the '{' at I (or ntoks), noting the struct
 * definitions inside. */
static size_t
skip_body(struct gen *g, struct header *h, size_t i)
{
	unsigned depth = 0;

	for (; i < h->ntoks; i++) {
		const struct tok *t = &h->toks[i];

		if (tok_is(t, "{")) {
			if (i >= 2 && is_tag_keyword(&h->toks[i - 2]) &&
			    h->toks[i - 1].type == T_IDENT)
				push_str(&g->defined, &g->ndefined,
				         &g->cap_defined,
				         tok_dup(&h->toks[i - 1]));
			depth++;
		} else if (tok_is(t, "}")) {
			if (--depth == 0)
				return i;
		}
	}
	return h->ntoks;
}

/* The indices of tokens [first, end) outside braces: a typedef of a
 * struct with a body is read without its fields. */
static size_t
outside_braces(const struct header *h, size_t first, size_t end, size_t *idx,
               size_t max)
{
	size_t i, n = 0;
	unsigned depth = 0;

	for (i = first; i < end && n < max; i++) {
		if (tok_is(&h->toks[i], "{")) {
			depth++;
			continue;
		}
		if (tok_is(&h->toks[i], "}")) {
			if (depth)
				depth--;
			continue;
		}
		if (!depth)
			idx[n++] = i;
	}
	return n;
}

static void
note_typedef(struct gen *g, struct header *h, size_t first, size_t end)
{
	struct tdef d = { NULL, NULL, NULL, 0 };
	size_t idx[64], n, i, k, j, name_at = 0;

	n = outside_braces(h, first + 1, end, idx, 64);
	for (i = 0; i < n; i++) {
		const struct tok *t = &h->toks[idx[i]];

		if (tok_is(t, "(") || tok_is(t, "["))
			goto drop; /* function, pointer-to-function, array */
		if (tok_is(t, "*"))
			d.stars++;
		else if (is_tag_keyword(t) && i + 1 < n &&
		         h->toks[idx[i + 1]].type == T_IDENT) {
			i++;
			if (tok_is(t, "enum"))
				continue;
			free(d.tag);
			d.tag = tok_dup(&h->toks[idx[i]]);
			push_str(&g->tags, &g->ntags, &g->cap_tags,
			         tok_dup(&h->toks[idx[i]]));
		}
	}
	/* The new name is the last identifier; the base, a typedef name
	 * before it. */
	for (i = n; i-- > 0;) {
		if (h->toks[idx[i]].type == T_IDENT) {
			d.name = tok_dup(&h->toks[idx[i]]);
			name_at = i;
			break;
		}
	}
	if (!d.name)
		goto drop;
	for (k = 0; !d.tag && !d.base && k < name_at; k++)
		for (j = 0; j < g->ntdefs && !d.base; j++)
			if (h->toks[idx[k]].type == T_IDENT &&
			    tok_is(&h->toks[idx[k]], g->tdefs[j].name))
				d.base = xstrdup(g->tdefs[j].name);
	if (!d.tag && !d.base)
		goto drop;
	if (d.base && strcmp(d.base, d.name) == 0)
		goto drop;
	if (g->ntdefs == g->cap_tdefs) {
		g->cap_tdefs = g->cap_tdefs ? g->cap_tdefs * 2 : 64;
		g->tdefs = xrealloc(g->tdefs, g->cap_tdefs * sizeof(*g->tdefs));
	}
	g->tdefs[g->ntdefs++] = d;
	return;
drop:
	free(d.name);
	free(d.tag);
	free(d.base);
}

/* Split header H into top-level statements. */
static void
scan(struct gen *g, struct header *h)
{
	size_t i, first = 0;
	bool has_paren = false, has_eq = false;

	for (i = 0; i < h->ntoks; i++) {
		const struct tok *t = &h->toks[i];

		if (tok_is(t, "(")) {
			has_paren = true;
		} else if (tok_is(t, "=")) {
			has_eq = true;
		} else if (tok_is(t, "{")) {
			if (i > first && h->toks[i - 1].type == T_STRING) {
				/* extern "C" { : transparent */
				first = i + 1;
				has_paren = has_eq = false;
				continue;
			}
			if (i > first && (is_tag_keyword(&h->toks[i - 1]) ||
			                  (i >= first + 2 &&
			                   is_tag_keyword(&h->toks[i - 2])))) {
				/* struct [TAG] { ... } goes on as a type */
				i = skip_body(g, h, i);
				continue;
			}
			if (has_eq) {
				i = skip_body(g, h, i);
				continue;
			}
			/* A function definition (static inline): not an
			 * export. */
			i = skip_body(g, h, i);
			first = i + 1;
			has_paren = has_eq = false;
			continue;
		} else if (tok_is(t, "}")) {
			/* The end of extern "C" { ... }. */
			first = i + 1;
			has_paren = has_eq = false;
			continue;
		} else if (tok_is(t, ";")) {
			size_t k;

			for (k = first; k < i; k++)
				if (is_tag_keyword(&h->toks[k]) && k + 1 < i &&
				    h->toks[k + 1].type == T_IDENT &&
				    !tok_is(&h->toks[k], "enum"))
					push_str(&g->tags, &g->ntags,
					         &g->cap_tags,
					         tok_dup(&h->toks[k + 1]));
			if (first < i && tok_is(&h->toks[first], "typedef")) {
				note_typedef(g, h, first, i);
			} else if (has_paren && !has_eq) {
				if (g->ndecls == g->cap_decls) {
					g->cap_decls =
					        g->cap_decls ? g->cap_decls * 2
					                     : 256;
					g->decls = xrealloc(
					        g->decls,
					        g->cap_decls *
					                sizeof(*g->decls));
				}
				g->decls[g->ndecls].h = h;
				g->decls[g->ndecls].first = first;
				g->decls[g->ndecls].end = i;
				g->ndecls++;
			}
			first = i + 1;
			has_paren = has_eq = false;
		}
	}
}

/* ---- types ---- */

enum handle_kind {
	H_NONE,
	H_HANDLE, /* a handle value: T * (T opaque), or a pointer typedef */
	H_OUT,    /* the address of one: T **, ptr_typedef * */
	H_STRUCT, /* a pointer to a defined struct (init/end idiom) */
	H_VOIDP,  /* void * */
};

struct type {
	enum handle_kind kind;
	char *family; /* for handles */
	bool is_void; /* plain void (a return type) */
	bool scalar;  /* not a pointer, not void */
};

static const struct tdef *
find_tdef(const struct gen *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->ntdefs; i++)
		if (strcmp(g->tdefs[i].name, name) == 0)
			return &g->tdefs[i];
	return NULL;
}

/* The plain (non-pointer) typedef name of struct TAG, or NULL. */
static const char *
plain_name(const struct gen *g, const char *tag)
{
	size_t i;

	for (i = 0; i < g->ntdefs; i++)
		if (g->tdefs[i].tag && strcmp(g->tdefs[i].tag, tag) == 0 &&
		    g->tdefs[i].stars == 0)
			return g->tdefs[i].name;
	return NULL;
}

/* Resolve tokens [first, end) (a type, maybe with a name) to a handle
 * kind. */
static void
resolve(const struct gen *g, const struct header *h, size_t first, size_t end,
        struct type *ty)
{
	char tag[256] = "", ptr_name[256] = "";
	unsigned stars = 0, depth;
	bool is_void = false;
	size_t i;

	memset(ty, 0, sizeof(*ty));
	for (i = first; i < end; i++) {
		const struct tok *t = &h->toks[i];
		const struct tdef *d0, *d;
		char name[256];
		unsigned tstars = 0;

		if (tok_is(t, "*") || tok_is(t, "[")) {
			stars++;
			continue;
		}
		if (t->type != T_IDENT)
			continue;
		if (is_tag_keyword(t) && i + 1 < end &&
		    h->toks[i + 1].type == T_IDENT) {
			if (!tok_is(t, "enum"))
				snprintf(tag, sizeof(tag), "%.*s",
				         (int)h->toks[i + 1].len,
				         h->toks[i + 1].p);
			i++;
			continue;
		}
		if (tok_is(t, "void")) {
			is_void = true;
			continue;
		}
		if (tag[0])
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)t->len, t->p);
		/* Follow a chain of typedefs to a struct. */
		d0 = d = find_tdef(g, name);
		for (depth = 0; d && depth < 16; depth++) {
			tstars += d->stars;
			if (d->tag)
				break;
			d = d->base ? find_tdef(g, d->base) : NULL;
		}
		if (d && d->tag) {
			snprintf(tag, sizeof(tag), "%s", d->tag);
			stars += tstars;
			if (tstars)
				snprintf(ptr_name, sizeof(ptr_name), "%s",
				         d0->name);
		}
	}
	ty->is_void = is_void && !stars;
	if (!tag[0]) {
		if (is_void && stars == 1)
			ty->kind = H_VOIDP;
		ty->scalar = !stars && !is_void;
		return;
	}
	{
		bool opaque = !in_list(g->defined, g->ndefined, tag);
		bool via_ptr = ptr_name[0] != '\0';
		const char *plain = plain_name(g, tag);

		ty->family = xstrdup(plain ? plain : via_ptr ? ptr_name : tag);
		if (stars == 1 && (opaque || via_ptr))
			ty->kind = H_HANDLE;
		else if (stars == 2 && (opaque || via_ptr))
			ty->kind = H_OUT;
		else if (stars == 1)
			ty->kind = H_STRUCT;
		else
			ty->scalar = !stars;
	}
}

/* ---- names ---- */

enum role { R_NONE, R_CREATE, R_ACQUIRE, R_RELEASE };

static const char *const create_words[] = { "create", "new",   "open",
	                                    "alloc",  "init",  "dup",
	                                    "copy",   "clone", NULL };
static const char *const acquire_words[] = { "ref",    "retain",  "addref",
	                                     "incref", "acquire", "grab",
	                                     NULL };
static const char *const release_words[] = {
	"release", "unref",    "free",     "destroy", "close",   "dispose",
	"delete",  "finalize", "finalise", "end",     "cleanup", "deinit",
	"fini",    "finish",   "decref",   "drop",    NULL
};

static bool
word_in(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(w, *list) == 0)
			return true;
	return false;
}

/* Version-like suffixes that do not say what a function does. */
static bool
is_suffix_word(const char *w)
{
	size_t i;

	if (!*w || strcmp(w, "ex") == 0 || strcmp(w, "ext") == 0 ||
	    strcmp(w, "r") == 0)
		return true;
	if (w[0] == 'v' && w[1]) {
		for (i = 1; w[i] >= '0' && w[i] <= '9'; i++)
			;
		if (!w[i])
			return true;
	}
	for (i = 0; w[i] >= '0' && w[i] <= '9'; i++)
		;
	return !w[i];
}

/* Role words that also count at the end of a longer word (gzopen,
 * gzclose); short ones like "end" or "new" would match append, renew. */
static const char *const suffix_words[] = {
	"open",    "close",  "free",    "alloc",    "create", "release",
	"destroy", "delete", "dispose", "finalize", "unref",  "retain",
	"incref",  "decref", "cleanup", NULL
};

static enum role
word_role(const char *w)
{
	size_t n = strlen(w), i;

	if (word_in(w, release_words))
		return R_RELEASE;
	if (word_in(w, acquire_words))
		return R_ACQUIRE;
	if (word_in(w, create_words))
		return R_CREATE;
	for (i = 0; suffix_words[i]; i++) {
		size_t k = strlen(suffix_words[i]);

		if (n > k && strcmp(w + n - k, suffix_words[i]) == 0)
			return word_role(suffix_words[i]);
	}
	return R_NONE;
}

/*
 * The role NAME says: *strong from its last word (sqlite3_close_v2,
 * SSL_CTX_new_ex, XML_ParserCreate), *weak from any word (create_dog,
 * zoo_create_errno; also XML_SetEndElementHandler, which is why a weak
 * role alone only makes a candidate).
 */
static void
name_role(const char *name, enum role *strong, enum role *weak)
{
	char words[16][64];
	size_t n = 0, len = 0, i;
	const char *p;

	/* Split at '_' and camelCase boundaries, lower-cased. */
	for (p = name;; p++) {
		bool boundary = !*p || *p == '_' ||
		                (p > name && *p >= 'A' && *p <= 'Z' &&
		                 p[-1] >= 'a' && p[-1] <= 'z');

		if (boundary && len) {
			words[n][len] = '\0';
			/* "init2" says init. */
			while (len && words[n][len - 1] >= '0' &&
			       words[n][len - 1] <= '9' && len > 1 &&
			       words[n][0] != 'v')
				words[n][--len] = '\0';
			if (++n == 16)
				break;
			len = 0;
		}
		if (!*p)
			break;
		if (*p == '_')
			continue;
		if (len < 63)
			words[n][len++] =
			        (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a'
			                                      : *p);
	}
	*strong = *weak = R_NONE;
	for (i = n; i-- > 0;) {
		if (is_suffix_word(words[i]))
			continue;
		*strong = word_role(words[i]);
		break;
	}
	for (i = n; i-- > 0 && *weak == R_NONE;)
		*weak = word_role(words[i]);
}

/* Words of getters, which hand out handles that already exist. */
static bool
name_has_getter_word(const char *name)
{
	static const char *const words[] = { "get",   "find",    "lookup",
		                             "peek",  "current", "next",
		                             "first", "last",    "parent",
		                             "fetch", NULL };
	size_t i, n;
	const char *p;

	for (i = 0; words[i]; i++) {
		n = strlen(words[i]);
		for (p = strstr(name, words[i]); p; p = strstr(p + 1, words[i]))
			if ((p == name || p[-1] == '_') &&
			    (!ident_char(p[n]) || p[n] == '_'))
				return true;
	}
	return false;
}

/* ---- one declaration ---- */

struct param {
	struct type ty;
};

struct rule {
	char *func;
	char *text;   /* the spec line */
	char *reason; /* why it is commented out, NULL when active */
	char *note;   /* a remark on an active rule, or NULL */
	char *family; /* grouping */
	char *decl;   /* "zoo.h:12: struct dog *create_dog(const char *name)" */
	int order;    /* create, acquire, release, use */
};

struct rules {
	struct rule *v;
	size_t n, cap;
};

static void add_rule(struct rules *rs, const char *func, const char *decl,
                     const char *family, int order, const char *reason,
                     const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));

static void
add_rule(struct rules *rs, const char *func, const char *decl,
         const char *family, int order, const char *reason, const char *fmt,
         ...)
{
	struct rule *r;
	va_list ap;
	char *line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (!line)
		return;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 64;
		rs->v = xrealloc(rs->v, rs->cap * sizeof(*rs->v));
	}
	r = &rs->v[rs->n++];
	r->func = xstrdup(func);
	r->text = line;
	r->reason = reason ? xstrdup(reason) : NULL;
	r->note = NULL;
	r->family = xstrdup(family ? family : "");
	r->decl = xstrdup(decl);
	r->order = order;
}

/* The declaration as one line of text. */
static char *
decl_text(const struct header *h, size_t first, size_t end)
{
	struct sbuf b = { 0 };
	const char *base = strrchr(h->path, '/');
	size_t i;

	sbuf_printf(&b, "%s:%u: ", base ? base + 1 : h->path,
	            h->toks[first].line);
	for (i = first; i < end; i++) {
		const struct tok *t = &h->toks[i],
		                 *prev = i > first ? t - 1 : NULL;
		bool space = false;

		if (prev) {
			bool pw = prev->type != T_PUNCT,
			     tw = t->type != T_PUNCT;

			space = (pw && tw) || tok_is(prev, ",") ||
			        (pw && tok_is(t, "*")) ||
			        (tok_is(prev, "*") && tw && false);
		}
		if (space)
			sbuf_puts(&b, " ");
		sbuf_add(&b, t->p, t->len);
		if (b.len > 160) {
			sbuf_puts(&b, " ...");
			break;
		}
	}
	return b.s;
}

static const char *const skip_before_paren[] = {
	"__attribute__", "__attribute", "__declspec", "__asm__", "__asm", "asm",
	"_Alignas",      "__nonnull",   "__THROW",    "__wur",   NULL
};

static void
free_type(struct type *t)
{
	free(t->family);
	t->family = NULL;
}

static void
classify(const struct gen *g, const struct decl *d, struct rules *rs,
         char ***seen, size_t *nseen, size_t *cap_seen)
{
	const struct header *h = d->h;
	size_t i, name_i = 0, open = 0, close = 0, k, nparams = 0;
	struct param params[32];
	struct type ret;
	enum role role, weak;
	char *name, *decl, *reason = NULL;
	const char *cond;
	int first_handle = -1, out = -1, first_struct = -1, first_voidp = -1;
	unsigned depth;

	for (i = d->first; i < d->end; i++)
		if (tok_is(&h->toks[i], "static") ||
		    tok_is(&h->toks[i], "typedef"))
			return;
	/* The first '(' after an identifier that is not an attribute. */
	for (i = d->first + 1; i < d->end; i++) {
		const struct tok *t = &h->toks[i], *prev = t - 1;

		if (!tok_is(t, "("))
			continue;
		if (prev->type != T_IDENT)
			return; /* (*fp)(...): a function pointer object */
		{
			char w[64];
			size_t j;
			bool attr = false;

			snprintf(w, sizeof(w), "%.*s", (int)prev->len, prev->p);
			for (j = 0; skip_before_paren[j]; j++)
				if (strcmp(w, skip_before_paren[j]) == 0)
					attr = true;
			if (attr) {
				/* Skip the attribute's parentheses. */
				for (depth = 0; i < d->end; i++) {
					if (tok_is(&h->toks[i], "("))
						depth++;
					else if (tok_is(&h->toks[i], ")") &&
					         --depth == 0)
						break;
				}
				continue;
			}
		}
		name_i = i - 1;
		open = i;
		break;
	}
	if (!open)
		return;
	/* zlib's OF((args)): the name is before OF, the arguments inside. */
	if (tok_is(&h->toks[name_i], "OF") && name_i > d->first &&
	    h->toks[name_i - 1].type == T_IDENT && open + 1 < d->end &&
	    tok_is(&h->toks[open + 1], "(")) {
		name_i--;
		open++;
	}
	for (depth = 0, i = open; i < d->end; i++) {
		if (tok_is(&h->toks[i], "("))
			depth++;
		else if (tok_is(&h->toks[i], ")") && --depth == 0)
			break;
	}
	if (i >= d->end)
		return;
	close = i;
	name = tok_dup(&h->toks[name_i]);
	if (in_list(*seen, *nseen, name)) {
		free(name);
		return;
	}
	push_str(seen, nseen, cap_seen, xstrdup(name));
	/* Parameters, split at top-level commas. */
	for (k = open + 1; k < close && nparams < 32;) {
		size_t e = k;

		for (depth = 0; e < close; e++) {
			if (tok_is(&h->toks[e], "("))
				depth++;
			else if (tok_is(&h->toks[e], ")"))
				depth--;
			else if (tok_is(&h->toks[e], ",") && !depth)
				break;
		}
		if (e == k + 1 && tok_is(&h->toks[k], "void"))
			break; /* (void) */
		if (e > k && !tok_is(&h->toks[k], "...")) {
			size_t j;
			bool fnptr = false;

			for (j = k; j < e; j++)
				if (tok_is(&h->toks[j], "("))
					fnptr = true;
			/* A callback parameter holds no handle itself. */
			if (fnptr)
				memset(&params[nparams].ty, 0,
				       sizeof(params[nparams].ty));
			else
				resolve(g, h, k, e, &params[nparams].ty);
			nparams++;
		}
		k = e + 1;
	}
	resolve(g, h, d->first, name_i, &ret);
	for (k = 0; k < nparams; k++) {
		enum handle_kind kind = params[k].ty.kind;

		if (kind == H_HANDLE && first_handle < 0)
			first_handle = (int)k;
		if (kind == H_OUT && out < 0)
			out = (int)k;
		if (kind == H_STRUCT && first_struct < 0)
			first_struct = (int)k;
		if (kind == H_VOIDP && first_voidp < 0)
			first_voidp = (int)k;
	}
	name_role(name, &role, &weak);
	decl = decl_text(h, d->first,
	                 close + 1 < d->end && tok_is(&h->toks[close + 1], ")")
	                         ? close + 2
	                         : close + 1);
	cond = ret.scalar ? "ret==0" : "";
	if (ret.kind == H_HANDLE) {
		if (role != R_CREATE && weak != R_CREATE)
			reason =
			        xasprintf("returns a handle of family %s, but "
			                  "its name does not say it makes one: "
			                  "a borrowed pointer?",
			                  ret.family);
		add_rule(rs, name, decl, ret.family, 0, reason,
		         "create   %-32s ret              family=%s", name,
		         ret.family);
	} else if (out >= 0 && role != R_RELEASE && role != R_ACQUIRE) {
		char *h2 = xasprintf("*arg%d", out);

		bool getter = name_has_getter_word(name);

		add_rule(rs, name, decl, params[out].ty.family, 0,
		         role == R_CREATE || weak == R_CREATE || !getter
		                 ? NULL
		                 : "stores a handle through an out-parameter, "
		                   "but its name sounds like a getter of an "
		                   "existing one",
		         "create   %-32s %-6s %-9s family=%s", name, h2, cond,
		         params[out].ty.family);
		if (role != R_CREATE && weak != R_CREATE && !getter)
			rs->v[rs->n - 1].note = xstrdup(
			        "by type: it stores a new handle through "
			        "an out-parameter (T **)");
		free(h2);
	} else if (role == R_CREATE &&
	           (first_handle == 0 || first_struct == 0) && !ret.family) {
		/* deflateInit(strm): a caller's struct made live. */
		int a = 0;

		add_rule(rs, name, decl, params[a].ty.family, 0, NULL,
		         "create   %-32s arg%-3d %-9s family=%s", name, a, cond,
		         params[a].ty.family);
		rs->v[rs->n - 1].note =
		        xstrdup("makes the structure its first argument points "
		                "to live (the init/end idiom): check the "
		                "condition");
	} else if ((role == R_ACQUIRE || role == R_RELEASE ||
	            ((weak == R_ACQUIRE || weak == R_RELEASE) &&
	             role == R_NONE)) &&
	           (first_handle >= 0 || first_struct == 0)) {
		int a = first_handle >= 0 ? first_handle : 0;

		if (role == R_NONE) {
			role = weak;
			reason = xasprintf("'%s' says %s, but not as its last "
			                   "word",
			                   name,
			                   role == R_ACQUIRE ? "acquire"
			                                     : "release");
		} else if (first_handle < 0)
			reason = xstrdup("takes a pointer to a structure the "
			                 "caller owns (the init/end idiom)");
		else if (a != 0)
			reason = xasprintf("the handle is argument %d", a);
		add_rule(rs, name, decl, params[a].ty.family,
		         role == R_ACQUIRE ? 1 : 2,
		         a == 0 && !reason ? NULL : reason,
		         "%-8s %-32s arg%-3d %-9s family=%s",
		         role == R_ACQUIRE ? "acquire" : "release", name, a, "",
		         params[a].ty.family);
	} else if ((role == R_ACQUIRE || role == R_RELEASE ||
	            weak == R_ACQUIRE || weak == R_RELEASE) &&
	           first_voidp == 0) {
		if (role == R_NONE || role == R_CREATE)
			role = weak;
		add_rule(rs, name, decl, NULL, role == R_ACQUIRE ? 1 : 2,
		         "takes a void *: enable it if that is a handle (any "
		         "family)",
		         "%-8s %-32s arg0",
		         role == R_ACQUIRE ? "acquire" : "release", name);
	} else if (first_handle == 0) {
		add_rule(rs, name, decl, params[0].ty.family, 3,
		         "use: enable to catch use after release (each call "
		         "is then intercepted)",
		         "use      %-32s arg0             family=%s", name,
		         params[0].ty.family);
	}
	free(reason);
	free(decl);
	free(name);
	free_type(&ret);
	for (k = 0; k < nparams; k++)
		free_type(&params[k].ty);
}

static int
cmp_rules(const void *a, const void *b)
{
	const struct rule *x = a, *y = b;

	return x->order - y->order;
}

/* An acquire or release of a family that no active create makes would
 * only see handles refsan never saw created: a candidate, not a rule. */
static void
demote_orphans(struct rules *rs)
{
	size_t i, j;

	for (i = 0; i < rs->n; i++) {
		struct rule *r = &rs->v[i];
		bool made = false;

		if (r->reason || r->order == 0 || r->order == 3 ||
		    !r->family[0])
			continue;
		for (j = 0; j < rs->n && !made; j++)
			made = rs->v[j].order == 0 && !rs->v[j].reason &&
			       strcmp(rs->v[j].family, r->family) == 0;
		if (!made)
			r->reason = xasprintf("no active create rule makes "
			                      "handles of family %s",
			                      r->family);
	}
}

static void
print_rules(struct rules *rs)
{
	char **fams = NULL;
	size_t nfams = 0, cap = 0, i, j;

	/* Families in order of first appearance; rules of no family last. */
	for (i = 0; i < rs->n; i++)
		if (rs->v[i].family[0])
			push_str(&fams, &nfams, &cap, xstrdup(rs->v[i].family));
	push_str(&fams, &nfams, &cap, xstrdup(""));
	for (i = 0; i < nfams; i++) {
		struct rule *sel = xcalloc(rs->n, sizeof(*sel));
		size_t n = 0, uses = 0;

		for (j = 0; j < rs->n; j++)
			if (strcmp(rs->v[j].family, fams[i]) == 0)
				sel[n++] = rs->v[j];
		/* Stable: the creates, acquires, releases, uses of the family
		 * in declaration order. */
		for (j = 0; j < n; j++)
			sel[j].order = sel[j].order * 100000 + (int)j;
		qsort(sel, n, sizeof(*sel), cmp_rules);
		if (n)
			printf("\n# ---- %s ----\n",
			       fams[i][0] ? fams[i] : "no family");
		for (j = 0; j < n; j++) {
			if (sel[j].order / 100000 == 3) {
				if (!uses++)
					printf("# use rules: enable to catch use "
					       "after release (each call is "
					       "then intercepted)\n");
				printf("#   %s\n", sel[j].text);
				continue;
			}
			printf("# from %s\n", sel[j].decl);
			if (sel[j].note)
				printf("# note: %s\n", sel[j].note);
			if (sel[j].reason)
				printf("# review: %s\n# %s\n", sel[j].reason,
				       sel[j].text);
			else
				printf("%s\n", sel[j].text);
		}
		free(sel);
	}
	for (i = 0; i < nfams; i++)
		free(fams[i]);
	free(fams);
}

int
cmd_spec_gen(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "library", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *library = NULL;
	struct gen g;
	struct header *hs;
	struct rules rs = { NULL, 0, 0 };
	char **seen = NULL, *lib_default = NULL;
	size_t nseen = 0, cap_seen = 0, nh, i, active = 0;
	int c, status = EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			library = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return EXIT_CLEAN;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_error("spec gen: expected one or more C headers");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	memset(&g, 0, sizeof(g));
	nh = (size_t)(argc - optind);
	hs = xcalloc(nh, sizeof(*hs));
	for (i = 0; i < nh; i++) {
		hs[i].path = argv[optind + (int)i];
		hs[i].text = read_whole_file(hs[i].path, (size_t)64 << 20,
		                             &hs[i].len);
		if (!hs[i].text) {
			cli_error("%s: cannot read: %s", hs[i].path,
			          strerror(errno));
			goto out;
		}
		tokenize(&hs[i]);
		scan(&g, &hs[i]);
	}
	for (i = 0; i < g.ndecls; i++)
		classify(&g, &g.decls[i], &rs, &seen, &nseen, &cap_seen);
	if (!library) {
		const char *base = strrchr(hs[0].path, '/');
		size_t n;

		base = base ? base + 1 : hs[0].path;
		n = strcspn(base, ".");
		lib_default = xasprintf("lib%.*s.so*", (int)n, base);
		library = lib_default;
	}
	demote_orphans(&rs);
	for (i = 0; i < rs.n; i++)
		if (!rs.v[i].reason && rs.v[i].order != 3)
			active++;
	printf("# refsan spec generated by `refsan spec gen` (refsan %s) from",
	       REFSAN_VERSION);
	for (i = 0; i < nh; i++)
		printf(" %s", hs[i].path);
	printf(".\n# A starting point for a person to review: rules come from "
	       "naming conventions\n# and opaque pointer types; lines marked "
	       "'review' are candidates, commented\n# out.  %zu active "
	       "rule(s).  Check it with: refsan spec check FILE --lib LIB\n",
	       active);
	printf("library  %s%s\n", library,
	       lib_default ? "    # review: the library's file name" : "");
	print_rules(&rs);
	status = EXIT_CLEAN;
out:
	for (i = 0; i < nh; i++) {
		free(hs[i].text);
		free(hs[i].toks);
	}
	free(hs);
	for (i = 0; i < rs.n; i++) {
		free(rs.v[i].func);
		free(rs.v[i].text);
		free(rs.v[i].reason);
		free(rs.v[i].note);
		free(rs.v[i].family);
		free(rs.v[i].decl);
	}
	free(rs.v);
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	for (i = 0; i < g.ndefined; i++)
		free(g.defined[i]);
	free(g.defined);
	for (i = 0; i < g.ntags; i++)
		free(g.tags[i]);
	free(g.tags);
	for (i = 0; i < g.ntdefs; i++) {
		free(g.tdefs[i].name);
		free(g.tdefs[i].tag);
		free(g.tdefs[i].base);
	}
	free(g.tdefs);
	free(g.decls);
	free(lib_default);
	return status;
}
