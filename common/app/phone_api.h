/*
 * phone_api: the /api/phone/... handlers and Twilio's call status
 * callbacks (xsb-phone).  Each validates its input, makes one call to
 * domain/phone.h and renders the answer.
 */
#ifndef PHONE_API_H
#define PHONE_API_H

struct req;

/*
 * GET /api/phone/search?country=&area_code=&contains=&limit=: numbers
 * Twilio offers.  200 {"numbers":[...]}; 400 bad input; 401; 403
 * tier_not_eligible; 502 twilio_error.
 */
void		 phone_api_search(struct req *r);

/*
 * POST /api/phone/provision {area_code?, phone_number?}: 200 the number
 * now held; 400 bad input; 401; 403 tier_not_eligible; 404
 * no_number_available; 409 already_has_number or provisioning_in_progress;
 * 415; 502 twilio_error; 503.
 */
void		 phone_api_provision(struct req *r);

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
 * recorded (also for an unknown user, logged: Twilio cannot fix it);
 * 400 malformed form; 403 bad or missing X-Twilio-Signature; 404 a user
 * id that is no id; 415; 503 when the database fails (Twilio then logs
 * the failure; it does not retry a status callback by default).
 */
void		 phone_api_status_callback(struct req *r);

#endif
