/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	refmilter - the do-nothing milter that sets the protocol floor
 * SYNOPSIS
 *	refmilter [-b backlog] [-t timeout] SOCKET
 *
 *	SOCKET is in libmilter syntax: unix:/path, inet:PORT@HOST.
 * DESCRIPTION
 *	A milter written directly on libmilter, without libpostern, that
 *	asks the MTA for every protocol step (connect, HELO, MAIL, RCPT,
 *	DATA, each header, end of headers, each body chunk, unknown
 *	commands, end of message) with a reply to each, and answers
 *	"continue" to all of them. It keeps no state and modifies nothing.
 *	bench.py measures Postfix with it attached: whatever a Postern
 *	daemon costs beyond this is the daemon's own work, not the protocol.
 *
 *	A stale socket is removed; the socket is made mode 0666 so that
 *	Postfix's processes (user postfix) can connect. SIGTERM, SIGINT or
 *	SIGHUP stop it (libmilter's signal handling) with exit status 0.
 * DIAGNOSTICS
 *	Exit status 64 for a usage error, 69 when the socket cannot be
 *	opened, 70 when libmilter fails; a message on stderr says which.
 */
#include <libmilter/mfapi.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

/* ref_connect - continue */
static sfsistat ref_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx; (void)host; (void)addr;
	return SMFIS_CONTINUE;
}

/* ref_helo - continue */
static sfsistat ref_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx; (void)helo;
	return SMFIS_CONTINUE;
}

/* ref_envfrom - continue */
static sfsistat ref_envfrom(SMFICTX *ctx, char **argv)
{
	(void)ctx; (void)argv;
	return SMFIS_CONTINUE;
}

/* ref_envrcpt - continue */
static sfsistat ref_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)ctx; (void)argv;
	return SMFIS_CONTINUE;
}

/* ref_header - continue */
static sfsistat ref_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx; (void)name; (void)value;
	return SMFIS_CONTINUE;
}

/* ref_eoh - continue */
static sfsistat ref_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* ref_body - continue */
static sfsistat ref_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx; (void)chunk; (void)len;
	return SMFIS_CONTINUE;
}

/* ref_eom - continue (the message is accepted unchanged) */
static sfsistat ref_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* ref_abort - continue */
static sfsistat ref_abort(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* ref_close - continue */
static sfsistat ref_close(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* ref_unknown - continue */
static sfsistat ref_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)ctx; (void)cmd;
	return SMFIS_CONTINUE;
}

/* ref_data - continue */
static sfsistat ref_data(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* ref_negotiate - every step, a reply to each, no modifications */
static sfsistat ref_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			      unsigned long f2, unsigned long f3, unsigned long *pf0,
			      unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	(void)ctx; (void)f0; (void)f1; (void)f2; (void)f3;
	/* No SMFIP_NO* bit: send every step; no SMFIP_NR_* bit: wait for each reply. */
	*pf0 = 0;
	*pf1 = 0;
	*pf2 = *pf3 = 0;
	return SMFIS_CONTINUE;
}

/* usage - print the synopsis and exit 64 */
static void usage(void)
{
	fputs("usage: refmilter [-b backlog] [-t timeout] SOCKET\n", stderr);
	exit(EX_USAGE);
}

int main(int argc, char **argv)
{
	struct smfiDesc desc = {
		.xxfi_name = "refmilter",
		.xxfi_version = SMFI_VERSION,
		.xxfi_flags = 0,
		.xxfi_connect = ref_connect,
		.xxfi_helo = ref_helo,
		.xxfi_envfrom = ref_envfrom,
		.xxfi_envrcpt = ref_envrcpt,
		.xxfi_header = ref_header,
		.xxfi_eoh = ref_eoh,
		.xxfi_body = ref_body,
		.xxfi_eom = ref_eom,
		.xxfi_abort = ref_abort,
		.xxfi_close = ref_close,
		.xxfi_unknown = ref_unknown,
		.xxfi_data = ref_data,
		.xxfi_negotiate = ref_negotiate,
	};
	int backlog = 128, timeout = 60, opt;
	mode_t old_mask;

	while ((opt = getopt(argc, argv, "b:t:")) != -1) {
		switch (opt) {
		case 'b':
			backlog = atoi(optarg);
			break;
		case 't':
			timeout = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || backlog < 1 || timeout < 1)
		usage();
	if (smfi_register(desc) != MI_SUCCESS || smfi_setconn(argv[optind]) != MI_SUCCESS
	    || smfi_settimeout(timeout) != MI_SUCCESS || smfi_setbacklog(backlog) != MI_SUCCESS) {
		fprintf(stderr, "refmilter: libmilter setup failed for %s\n", argv[optind]);
		return EX_SOFTWARE;
	}
	/* Postfix runs as user postfix: the socket must be writable by others. */
	old_mask = umask(0);
	if (smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "refmilter: cannot open socket %s\n", argv[optind]);
		return EX_UNAVAILABLE;
	}
	umask(old_mask);
	return smfi_main() == MI_SUCCESS ? 0 : EX_SOFTWARE;
}
