/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * detach - leave the terminal (detach.h)
 */
#include "common/detach.h"

#include <fcntl.h>
#include <unistd.h>

int pn_detach(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	setsid();
	if (chdir("/") < 0)
		return -1;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}
