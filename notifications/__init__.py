"""Talking to people: SMS (Twilio or fakes), French templates, webhooks, calendars.

Modules are imported explicitly (`from notifications.gsm import ...`); this
package imports nothing itself so that importing it never loads Twilio.
"""
