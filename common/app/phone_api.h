/*
 * phone_api: the /api/phone/... handlers and Twilio's call status
 * callbacks (xsb-phone).  Each validates its input, makes one call to
 * domain/phone.h and renders the answer.
 */
#ifndef PHONE_API_H
#define PHONE_API_H

#include "core/xerr.h"

struct cfg;
struct json_object;
struct req;

/*
 * xsb-phone's server_init (core/server.h): starts the group commit of
 * call status callbacks (phone_calls_start() of domain/phone.h) and sets
 * *threads to FCGI_THREADS.
 */
enum xerr	 phone_api_start(const struct cfg *cfg, unsigned long *threads);

/*
 * GET /api/phone/search?country=&area_code=&contains=&region=&locality=
 * &postal_code=&near_number=&near_lat_long=&distance=&limit=: numbers
 * Twilio offers.  200 {"numbers":[...]}; 400 bad input; 401; 403
 * tier_not_eligible; 502 twilio_error.
 */
void		 phone_api_search(struct req *r);

/*
 * POST /api/phone/provision {phone_number? | search members?}: claims and
 * queues the purchase, never waiting for Twilio.  202 the record
 * ("provisioning"); GET /api/phone/details then says active or failed
 * (e.g. a phone_number Twilio's search does not offer).  An empty body
 * buys as the stored preference says.  400 bad input (also a
 * phone_number of another country than PHONE_COUNTRY); 401; 403
 * tier_not_eligible; 409 already_has_number or provisioning_in_progress;
 * 415; 503.
 */
void		 phone_api_provision(struct req *r);

/*
 * PUT /api/phone/preference {search members}: the number automatic
 * provisioning buys; an empty body or {} clears it.  200 {"preference"};
 * 400; 401; 403 tier_not_eligible; 415; 503.
 */
void		 phone_api_preference(struct req *r);

/*
 * POST /phone/voice/<user id>: Twilio asks what to do with a call to the
 * user's number (signed like the status callback: 403 otherwise).  200
 * TwiML: <Redirect> to ASSISTANT_VOICE_URL/<user id>; a spoken notice
 * when it is not set or the tier has no phone; <Reject> when the user is
 * unknown or To is not their number (logged).  400 malformed; 503.
 */
void		 phone_api_voice(struct req *r);

/*
 * POST /phone/sms/<user id>: a text to the user's number, signed.  Metered
 * (kind sms, NumSegments, key "twilio:sms:<MessageSid>") unless not
 * theirs; 200 TwiML: <Redirect> to ASSISTANT_SMS_URL/<user id>, a texted
 * notice, or an empty <Response/> (unknown user, not their number).
 * POST /phone/sms/<user id>/status: the StatusCallback of a message sent
 * from the number; MessageStatus sent or delivered is metered the same
 * way (once per MessageSid).  204.  Both: 400, 403, 404, 415, 502 (no
 * NumSegments and Twilio cannot say), 503.
 */
void		 phone_api_sms(struct req *r);

/*
 * DELETE /api/phone/release: 200 the number released; 401; 404 no_number;
 * 409 provisioning_in_progress; 502 twilio_error; 503.
 */
void		 phone_api_release(struct req *r);

/*
 * GET /api/phone/details: 200 our record with Twilio's view ("twilio":
 * null and a "warning" when Twilio cannot say); 401; 503.
 */
void		 phone_api_details(struct req *r);

/*
 * POST /phone/status/<user id>: Twilio's call status callback.  204 once
 * recorded and committed (several callbacks share a commit in xsb-phone) (also for an unknown user, logged: Twilio cannot fix it);
 * 400 malformed form; 403 bad or missing X-Twilio-Signature; 404 a user
 * id that is no id; 415; 503 when the database fails (Twilio then logs
 * the failure; it does not retry a status callback by default).
 */
void		 phone_api_status_callback(struct req *r);

/*
 * The answer of GET /api/admin/phone/numbers?after=&limit=&held=1 (served
 * by xsb-billing through admin_phone_numbers(), which checks the admin
 * token and records the call): every number we hold or held, in id order,
 * limit (1..100, default 50) after the id after, only those held with
 * held=1: id, user_id, phone_number, phone_sid, status (active, grace,
 * released), held_from, held_to, grace_until, and "twilio": Twilio's view
 * of a held one (status, URLs; {"error"} when Twilio cannot say), null
 * for one released.  next_after continues (null at the end).  Returns 0
 * with *out, the caller's to release, to be answered 200; or -1 after
 * answering 400 or 503 (*out NULL).
 */
int		 phone_api_admin_numbers(struct req *r,
		    struct json_object **out);

#endif
