"""app.py: a small program using zoo_wrap; run it under refsan (demo/run.sh)
to see a leak and a double release reported with their Python lines."""
import zoo_wrap


def adopt(name):
    dog = zoo_wrap.Dog(name)
    owner = zoo_wrap.DogOwner(dog)  # leaks its native owner
    dog.release()                   # the caller's reference
    return owner


def main():
    keeper = adopt("rex")
    buddy = zoo_wrap.Dog("buddy")
    buddy.walk()
    buddy.release()                 # ... and __del__ releases it again
    del buddy
    print("app: done; owner kept:", keeper is not None)


if __name__ == "__main__":
    main()
