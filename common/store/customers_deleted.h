/*
 * customers_deleted: the Stripe customers deleted (customer.deleted,
 * sql/007_payments.sql), never linked to a user again.  Only
 * customers_deleted.c knows the columns of its statements (store/stmt.c).
 * Strings given are borrowed for the call; what is read is copied into the
 * caller's buffers.
 */
#ifndef CUSTOMERS_DELETED_H
#define CUSTOMERS_DELETED_H

#include <stdint.h>

#include "core/xerr.h"

struct db;

/*
 * Remembers customer as deleted by event_id at deleted_at, with the user
 * it had; a customer already remembered is kept as it is.  Errors of
 * db_exec().
 */
enum xerr	 customers_deleted_insert(struct db *db, const char *customer,
		    const char *user_id, const char *event_id,
		    int64_t deleted_at);

/*
 * Reads the user a deleted customer had into uid.  XERR_NOTFOUND (uid
 * "") when customer was not deleted; errors of db_query().
 */
enum xerr	 customers_deleted_user(struct db *db, const char *customer,
		    char uid[65]);

#endif
