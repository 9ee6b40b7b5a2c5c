#!/bin/sh
# `prisma generate` wants a schema engine binary it never runs for generation; none is downloaded
exit 0
