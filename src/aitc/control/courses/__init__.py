"""Courses: sessions are reservations in the engine, members enrol on their seats, each seated
learner's lab runs on their seat as a job of theirs, and a passed enrolment earns an Open
Badges 3.0 credential signed with eddsa-jcs-2022.

Modules: ``catalog`` (courses, instructor certifications, lab.yaml), ``sessions`` (a session's
seats as a reservation the engine can guarantee), ``enrolment`` (self-enrolment, rosters, the
waitlist, results), ``certificates`` (building and issuing credentials), ``credentials``
(signing and verifying: the cryptosuite and the OB 3.0 verification steps), ``jcs``
(RFC 8785), ``issuer`` (the key), ``routes`` and ``schemas`` (the API). Labs: ``labs``
(starting and following learners' labs), ``labrules`` (the no-show and idle rules, pure),
``labprobe`` (looking at a lab with its token), ``keeper`` (the loop beside the controller),
``assessment`` (the assessment command as a job on the seat), ``labroutes`` and
``labschemas`` (their API).
"""
