/*
 * charges: the charges of our users (sql/007_payments.sql), kept so that
 * a dispute or refund naming only a charge or PaymentIntent finds its
 * user.  Only charges.c knows the columns of its statements
 * (store/stmt.c).  Strings given are borrowed for the call; what is read
 * is copied into the caller's buffers.
 */
#ifndef CHARGES_H
#define CHARGES_H

#include <stdint.h>

#include "core/xerr.h"

struct db;

/* A charge to record; payment_intent may be NULL. */
struct charges_row {
	const char	*id;
	const char	*user_id;
	const char	*payment_intent;
	int64_t		 amount;
	int64_t		 amount_refunded;
	const char	*currency;
	int64_t		 created;
};

/*
 * Inserts the charge, or updates the one there: its PaymentIntent when it
 * had none, the amount refunded when it grew.  Errors of db_exec().
 */
enum xerr	 charges_upsert(struct db *db, const struct charges_row *c);

/*
 * Reads into uid the user of the charge id, else of the charge of
 * PaymentIntent pi (either may be NULL).  XERR_NOTFOUND (uid "") when
 * neither is recorded; errors of db_query().
 */
enum xerr	 charges_user(struct db *db, const char *id, const char *pi,
		    char uid[65]);

#endif
