import Stripe from 'stripe';
const stripe = new Stripe('sk_test_x');
const secret = process.env.STRIPE_WEBHOOK_SECRETS.split(',')[0];
const payload = JSON.stringify({id:'evt_test_1', object:'event', type:'customer.created', created: Math.floor(Date.now()/1000), api_version:'2023-09-12', livemode:false, data:{object:{id:'cus_1', object:'customer'}}});
const header = stripe.webhooks.generateTestHeaderString({payload, secret});
console.log(JSON.stringify({payload, header}));
