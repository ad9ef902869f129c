"""Courses: sessions are reservations in the engine, members enrol on their seats, and a passed
enrolment earns an Open Badges 3.0 credential signed with eddsa-jcs-2022.

Modules: ``catalog`` (courses, instructor certifications, lab.yaml), ``sessions`` (a session's
seats as a reservation the engine can guarantee), ``enrolment`` (self-enrolment, rosters, the
waitlist, results), ``certificates`` (building and issuing credentials), ``credentials``
(signing and verifying: the cryptosuite and the OB 3.0 verification steps), ``jcs``
(RFC 8785), ``issuer`` (the key), ``routes`` and ``schemas`` (the API).
"""
